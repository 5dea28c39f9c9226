//! Getting codes and notices to people: e-mail over SMTP (lettre), SMS through an HTTP gateway,
//! or in demo mode the demo outbox. Flows see only the `Mailer` and `SmsSender` traits. Errors
//! carry a category, never the remote server's text: that may echo the address.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use legitimera_protocol::{Channel, Email, OutboxMessage, PhoneNumber};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use time::format_description::well_known::Rfc3339;

use crate::clock::Clock;
use crate::config::{Sms, Smtp, SmtpSecurity};
use crate::store;

/// How long a mail server or SMS gateway may take before the user is told it is unavailable.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    #[error("the e-mail could not be sent: {0}")]
    Email(&'static str),
    #[error("the SMS could not be sent: {0}")]
    Sms(String),
}

#[async_trait]
pub trait Mailer: Send + Sync + Debug {
    async fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), DeliveryError>;
}

#[async_trait]
pub trait SmsSender: Send + Sync + Debug {
    async fn send(&self, to: &PhoneNumber, message: &str) -> Result<(), DeliveryError>;
}

/// E-mail over SMTP. A connection per message: codes are rare, and a server that comes back
/// is used at once.
#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(config: &Smtp) -> anyhow::Result<Self> {
        let builder = match config.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(DELIVERY_TIMEOUT));
        if let Some((user, password)) = &config.credentials {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        let from = config
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp from {:?} is not a mailbox: {e}", config.from))?;
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), DeliveryError> {
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|_| DeliveryError::Email("the address is not accepted for sending"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|_| DeliveryError::Email("the message could not be built"))?;
        self.transport.send(message).await.map(drop).map_err(|e| {
            let category = if e.is_timeout() {
                "timed out"
            } else if e.is_permanent() {
                "the mail server refused it"
            } else if e.is_transient() {
                "the mail server is busy"
            } else if e.is_tls() {
                "TLS failed"
            } else {
                "the mail server is unreachable"
            };
            tracing::warn!(category, "smtp delivery failed");
            DeliveryError::Email(category)
        })
    }
}

/// SMS through an HTTP gateway: form POST of `from`, `to`, `message` with basic auth.
#[derive(Debug)]
pub struct HttpSmsGateway {
    client: reqwest::Client,
    config: Sms,
}

impl HttpSmsGateway {
    pub fn new(config: &Sms) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()?;
        Ok(HttpSmsGateway {
            client,
            config: config.clone(),
        })
    }
}

#[async_trait]
impl SmsSender for HttpSmsGateway {
    async fn send(&self, to: &PhoneNumber, message: &str) -> Result<(), DeliveryError> {
        let mut request = self.client.post(self.config.url.clone()).form(&[
            ("from", self.config.from.as_str()),
            ("to", to.as_str()),
            ("message", message),
        ]);
        if let Some((user, password)) = &self.config.credentials {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request.send().await.map_err(|e| {
            let category = if e.is_timeout() {
                "timed out"
            } else {
                "unreachable"
            };
            tracing::warn!(category, "sms delivery failed");
            DeliveryError::Sms(category.to_owned())
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            tracing::warn!(status = status.as_u16(), "sms gateway refused the message");
            Err(DeliveryError::Sms(format!(
                "the gateway answered {}",
                status.as_u16()
            )))
        }
    }
}

/// Demo mode's "sent" messages, served at `GET /demo/outbox`: in the database, so every
/// instance sharing it shows every instance's messages. Keeps the newest few hundred.
#[derive(Debug)]
pub struct DemoOutbox {
    clock: Arc<dyn Clock>,
    pool: sqlx::AnyPool,
}

impl DemoOutbox {
    const KEEP: i64 = 500;

    pub fn new(clock: Arc<dyn Clock>, pool: sqlx::AnyPool) -> Self {
        DemoOutbox { clock, pool }
    }

    /// Everything sent, newest last.
    pub async fn messages(&self) -> sqlx::Result<Vec<OutboxMessage>> {
        let rows = store::outbox::all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(channel, to, subject, body, sent_at)| OutboxMessage {
                channel: if channel == "sms" {
                    Channel::Sms
                } else {
                    Channel::Email
                },
                to,
                subject,
                body,
                sent_at,
            })
            .collect())
    }

    async fn push(
        &self,
        channel: Channel,
        to: &str,
        subject: Option<&str>,
        body: &str,
    ) -> sqlx::Result<()> {
        let sent_at = self
            .clock
            .now()
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.clock.unix().to_string());
        let channel = match channel {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        let row = (
            channel.to_owned(),
            to.to_owned(),
            subject.map(str::to_owned),
            body.to_owned(),
            sent_at,
        );
        store::outbox::push(&self.pool, &row, Self::KEEP).await
    }
}

#[async_trait]
impl Mailer for DemoOutbox {
    async fn send(&self, to: &Email, subject: &str, body: &str) -> Result<(), DeliveryError> {
        self.push(Channel::Email, to.as_str(), Some(subject), body)
            .await
            .map_err(|_| DeliveryError::Email("the demo outbox is unavailable"))
    }
}

#[async_trait]
impl SmsSender for DemoOutbox {
    async fn send(&self, to: &PhoneNumber, message: &str) -> Result<(), DeliveryError> {
        self.push(Channel::Sms, to.as_str(), None, message)
            .await
            .map_err(|_| DeliveryError::Sms("the demo outbox is unavailable".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn outbox_keeps_order_newest_last() {
        let store = crate::store::Store::open(&crate::config::Database::Temporary)
            .await
            .unwrap();
        let outbox = DemoOutbox::new(Arc::new(ManualClock::new()), store.pool().clone());
        let email = Email::parse("a@example.se").unwrap();
        let phone = PhoneNumber::parse("0701234567").unwrap();
        Mailer::send(&outbox, &email, "Kod", "123456")
            .await
            .unwrap();
        SmsSender::send(&outbox, &phone, "654321").await.unwrap();
        let messages = outbox.messages().await.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].channel, Channel::Email);
        assert_eq!(messages[1].to, "+46701234567");
        assert_eq!(messages[1].subject, None);
    }
}
