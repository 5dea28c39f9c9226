//! The simulator's order book: every rule about an order's life (timeouts, retention,
//! alreadyInProgress, what the test app may do) as plain methods taking `now`. No I/O and no
//! clock of its own, so every rule is testable at any instant.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use time::{Duration, OffsetDateTime};

use super::app::{AppError, Scan, TestPerson};
use crate::error::ErrorCode;
use crate::fields::{AutoStartToken, OrderRef, Personnummer, QrStartSecret, QrStartToken};
use crate::qr::ScannedQr;
use crate::types::{
    CollectResponse, CompletionData, Device, HintCode, OrderResponse, Risk, StepUp, User,
};

/// An order nobody opens in this time fails with `startFailed`.
pub const START_TIMEOUT: Duration = Duration::seconds(30);
/// An opened order the user does not finish in this time fails with `expiredTransaction`.
pub const USER_TIMEOUT: Duration = Duration::minutes(3);
/// How long a completed order can be collected.
pub const COMPLETE_RETENTION: Duration = Duration::minutes(3);
/// How long a failed order can be collected.
pub const FAILED_RETENTION: Duration = Duration::minutes(5);
/// The oldest QR code the test app accepts, like the real app refusing a photo of an old code.
pub const QR_MAX_AGE: Duration = Duration::seconds(5);

/// A refusal in BankID's terms: the HTTP layer turns it into `{errorCode, details}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: ErrorCode,
    pub details: &'static str,
}

impl Refusal {
    fn no_such_order() -> Self {
        Refusal {
            code: ErrorCode::InvalidParameters,
            details: "No such order",
        }
    }
}

/// What `/auth` or `/sign` asked for, already validated by the HTTP layer.
#[derive(Debug, Clone)]
pub(crate) struct NewOrder {
    pub end_user_ip: IpAddr,
    pub required_person: Option<Personnummer>,
    pub mrtd: bool,
    pub return_risk: bool,
    /// base64, as sent: it goes into the signature XML as BankID puts it there.
    pub user_visible_data: Option<String>,
}

#[derive(Debug)]
struct Order {
    created: OffsetDateTime,
    request: NewOrder,
    auto_start_token: AutoStartToken,
    qr_start_token: QrStartToken,
    qr_start_secret: QrStartSecret,
    state: State,
}

#[derive(Debug)]
enum State {
    Outstanding,
    Opened {
        at: OffsetDateTime,
        person: TestPerson,
        /// Where the BankID app reached BankID from: `completionData.device.ipAddress`.
        device_ip: IpAddr,
        hint: HintCode,
    },
    Complete {
        at: OffsetDateTime,
        data: Box<CompletionData>,
    },
    Failed {
        at: OffsetDateTime,
        hint: HintCode,
    },
}

impl Order {
    /// Whether this pending order is held by `person`: required for them, or open in their app.
    fn pending_for(&self, person: &Personnummer) -> bool {
        match &self.state {
            State::Outstanding => self.request.required_person.as_ref() == Some(person),
            State::Opened { person: opener, .. } => &opener.personal_number == person,
            _ => false,
        }
    }

    fn fail(&mut self, at: OffsetDateTime, hint: HintCode) {
        self.state = State::Failed { at, hint };
    }

    /// Applies the timeouts that fell due by `now`, dated when they fell due.
    fn settle(&mut self, now: OffsetDateTime) {
        match &self.state {
            State::Outstanding if now >= self.created + START_TIMEOUT => {
                self.fail(self.created + START_TIMEOUT, HintCode::StartFailed)
            }
            State::Opened { at, .. } if now >= *at + USER_TIMEOUT => {
                let at = *at + USER_TIMEOUT;
                self.fail(at, HintCode::ExpiredTransaction)
            }
            _ => {}
        }
    }

    fn retained_at(&self, now: OffsetDateTime) -> bool {
        match &self.state {
            State::Complete { at, .. } => now < *at + COMPLETE_RETENTION,
            State::Failed { at, .. } => now < *at + FAILED_RETENTION,
            _ => true,
        }
    }
}

/// Every order the simulator knows, by reference.
#[derive(Debug, Default)]
pub(crate) struct Orders {
    orders: HashMap<OrderRef, Order>,
}

impl Orders {
    /// Timeouts first, then forgetting what is past its retention.
    fn settle(&mut self, now: OffsetDateTime) {
        for order in self.orders.values_mut() {
            order.settle(now);
        }
        self.orders.retain(|_, order| order.retained_at(now));
    }

    /// `/auth` and `/sign`.
    pub fn create(
        &mut self,
        request: NewOrder,
        now: OffsetDateTime,
    ) -> Result<OrderResponse, Refusal> {
        self.settle(now);
        if let Some(person) = &request.required_person {
            let mut clashed = false;
            for order in self.orders.values_mut() {
                if order.pending_for(person) {
                    order.fail(now, HintCode::Cancelled);
                    clashed = true;
                }
            }
            if clashed {
                return Err(Refusal {
                    code: ErrorCode::AlreadyInProgress,
                    details: "Order already in progress for pno",
                });
            }
        }
        let order_ref = OrderRef::random();
        let order = Order {
            created: now,
            request,
            auto_start_token: AutoStartToken::random(),
            qr_start_token: QrStartToken::random(),
            qr_start_secret: QrStartSecret::random(),
            state: State::Outstanding,
        };
        let response = OrderResponse::new(
            order_ref,
            order.auto_start_token,
            order.qr_start_token,
            order.qr_start_secret.clone(),
        );
        self.orders.insert(order_ref, order);
        tracing::debug!(%order_ref, "simulator: order created");
        Ok(response)
    }

    /// `/collect`.
    pub fn collect(
        &mut self,
        order_ref: &OrderRef,
        now: OffsetDateTime,
    ) -> Result<CollectResponse, Refusal> {
        self.settle(now);
        let order = self
            .orders
            .get(order_ref)
            .ok_or_else(Refusal::no_such_order)?;
        Ok(match &order.state {
            State::Outstanding => {
                CollectResponse::pending(*order_ref, HintCode::OutstandingTransaction)
            }
            State::Opened { hint, .. } => CollectResponse::pending(*order_ref, hint.clone()),
            State::Complete { data, .. } => {
                CollectResponse::complete(*order_ref, data.as_ref().clone())
            }
            State::Failed { hint, .. } => CollectResponse::failed(*order_ref, hint.clone()),
        })
    }

    /// `/cancel`: forgets the order whatever its state.
    pub fn cancel(&mut self, order_ref: &OrderRef, now: OffsetDateTime) -> Result<(), Refusal> {
        self.settle(now);
        self.orders
            .remove(order_ref)
            .map(|_| tracing::debug!(%order_ref, "simulator: order cancelled by the RP"))
            .ok_or_else(Refusal::no_such_order)
    }

    /// The test app opens the order `scan` points to, as `person`: `started`. `device_ip` is
    /// the address the app reaches BankID from; `None` is the address the RP sent as
    /// `endUserIp` (the app on the computer the user started from).
    pub fn open(
        &mut self,
        scan: &Scan,
        person: &TestPerson,
        device_ip: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<OrderRef, AppError> {
        self.settle(now);
        let order_ref = self.find(scan, now)?;
        let order = self.orders.get(&order_ref).ok_or(AppError::NoSuchOrder)?;
        if !matches!(order.state, State::Outstanding) {
            return Err(AppError::NotPending);
        }
        if let Some(required) = &order.request.required_person {
            if required != &person.personal_number {
                return Err(AppError::WrongPerson);
            }
        }
        for (other_ref, other) in self.orders.iter_mut() {
            if *other_ref != order_ref
                && matches!(other.state, State::Opened { .. })
                && other.pending_for(&person.personal_number)
            {
                other.fail(now, HintCode::Cancelled);
            }
        }
        let order = self
            .orders
            .get_mut(&order_ref)
            .ok_or(AppError::NoSuchOrder)?;
        order.state = State::Opened {
            at: now,
            person: person.clone(),
            device_ip: device_ip.unwrap_or(order.request.end_user_ip),
            hint: HintCode::Started,
        };
        tracing::debug!(%order_ref, "simulator: order opened by the test app");
        Ok(order_ref)
    }

    /// The app shows what to sign and asks for the security code: `userSign` (or `userMrtd`
    /// first when the order requires the ID document).
    pub fn ask_user(&mut self, order_ref: &OrderRef, now: OffsetDateTime) -> Result<(), AppError> {
        let order = self.opened(order_ref, now)?;
        let mrtd = order.request.mrtd;
        if let State::Opened { hint, .. } = &mut order.state {
            *hint = if mrtd && *hint == HintCode::Started {
                HintCode::UserMrtd
            } else {
                HintCode::UserSign
            };
        }
        Ok(())
    }

    /// The user identifies in the app: `complete`.
    pub fn complete(&mut self, order_ref: &OrderRef, now: OffsetDateTime) -> Result<(), AppError> {
        let order = self.opened(order_ref, now)?;
        let State::Opened {
            person, device_ip, ..
        } = &order.state
        else {
            return Err(AppError::NotPending);
        };
        let data = completion_data(order, person, *device_ip, now);
        order.state = State::Complete {
            at: now,
            data: Box::new(data),
        };
        tracing::debug!(%order_ref, "simulator: order completed");
        Ok(())
    }

    /// The user presses Cancel in the app: `failed`/`userCancel`.
    pub fn user_cancel(
        &mut self,
        order_ref: &OrderRef,
        now: OffsetDateTime,
    ) -> Result<(), AppError> {
        let order = self.opened(order_ref, now)?;
        order.fail(now, HintCode::UserCancel);
        tracing::debug!(%order_ref, "simulator: order cancelled in the app");
        Ok(())
    }

    fn opened(
        &mut self,
        order_ref: &OrderRef,
        now: OffsetDateTime,
    ) -> Result<&mut Order, AppError> {
        self.settle(now);
        let order = self
            .orders
            .get_mut(order_ref)
            .ok_or(AppError::NoSuchOrder)?;
        match order.state {
            State::Opened { .. } => Ok(order),
            _ => Err(AppError::NotPending),
        }
    }

    /// The pending order a scan points to, checking a QR code as the real app does.
    fn find(&self, scan: &Scan, now: OffsetDateTime) -> Result<OrderRef, AppError> {
        match scan {
            Scan::AutoStart(token) => self
                .orders
                .iter()
                .find(|(_, order)| order.auto_start_token == *token)
                .map(|(order_ref, _)| *order_ref)
                .ok_or(AppError::NoSuchOrder),
            Scan::Qr(data) => {
                let scanned = ScannedQr::parse(data).ok_or(AppError::UnreadableQr)?;
                let (order_ref, order) = self
                    .orders
                    .iter()
                    .find(|(_, order)| order.qr_start_token == scanned.qr_start_token)
                    .ok_or(AppError::NoSuchOrder)?;
                if !scanned.verify(&order.qr_start_secret) {
                    return Err(AppError::InvalidQrCode);
                }
                let elapsed = (now - order.created).whole_seconds();
                let claimed = i64::try_from(scanned.seconds).unwrap_or(i64::MAX);
                // One second ahead is allowed: the RP's clock started a moment after ours.
                if claimed > elapsed + 1 || elapsed - claimed > QR_MAX_AGE.whole_seconds() {
                    return Err(AppError::StaleQr);
                }
                Ok(*order_ref)
            }
        }
    }
}

fn completion_data(
    order: &Order,
    person: &TestPerson,
    device_ip: IpAddr,
    now: OffsetDateTime,
) -> CompletionData {
    let engine = base64::engine::general_purpose::STANDARD;
    let visible = order
        .request
        .user_visible_data
        .as_deref()
        .map(|data| format!("<usrVisibleData>{data}</usrVisibleData>"))
        .unwrap_or_default();
    let signature = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><!-- Legitimera simulator: not a real signature --><Object><bankIdSignedData xmlns="http://www.bankid.com/signature/v1.0.0/types" Id="bidSignedData">{visible}<srvInfo><nonce>{}</nonce></srvInfo></bankIdSignedData></Object></Signature>"#,
        engine.encode(OrderRef::random().to_string())
    );
    let issue_date = (now - Duration::days(400)).date();
    let mut data = CompletionData::new(
        User::new(
            person.personal_number.clone(),
            &person.given_name,
            &person.surname,
        ),
        Device::new(
            device_ip.to_string(),
            Some(engine.encode(uuid::Uuid::new_v4().as_bytes())),
        ),
        format!(
            "{:04}-{:02}-{:02}",
            issue_date.year(),
            u8::from(issue_date.month()),
            issue_date.day()
        ),
        engine.encode(signature),
        engine.encode("Legitimera simulator: not a real OCSP response"),
    );
    if order.request.mrtd {
        data.step_up = Some(StepUp::new(true));
    }
    if order.request.return_risk {
        data.risk = Some(Risk::Low);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::qr_data;
    use crate::types::Status;

    fn new_order(person: Option<&str>) -> NewOrder {
        NewOrder {
            end_user_ip: "192.0.2.10".parse().expect("ip"),
            required_person: person.map(|number| Personnummer::parse(number).expect("valid")),
            mrtd: false,
            return_risk: false,
            user_visible_data: None,
        }
    }

    fn status(
        orders: &mut Orders,
        order_ref: &OrderRef,
        now: OffsetDateTime,
    ) -> (Status, Option<HintCode>) {
        let answer = orders.collect(order_ref, now).expect("collectable");
        (answer.status, answer.hint_code)
    }

    #[test]
    fn outstanding_order_fails_with_start_failed_at_thirty_seconds() {
        let mut orders = Orders::default();
        let t0 = OffsetDateTime::now_utc();
        let order = orders.create(new_order(None), t0).expect("created");
        let at_29 = t0 + Duration::seconds(29);
        assert_eq!(
            status(&mut orders, &order.order_ref, at_29),
            (Status::Pending, Some(HintCode::OutstandingTransaction))
        );
        assert_eq!(
            status(&mut orders, &order.order_ref, t0 + START_TIMEOUT),
            (Status::Failed, Some(HintCode::StartFailed))
        );
    }

    #[test]
    fn failed_order_is_kept_five_minutes_from_when_it_failed() {
        let mut orders = Orders::default();
        let t0 = OffsetDateTime::now_utc();
        let order = orders.create(new_order(None), t0).expect("created");
        // First look long after the start timeout: the failure is dated at 30 s, not now.
        let just_before = t0 + START_TIMEOUT + FAILED_RETENTION - Duration::seconds(1);
        assert_eq!(
            status(&mut orders, &order.order_ref, just_before).0,
            Status::Failed
        );
        let refusal = orders
            .collect(&order.order_ref, t0 + START_TIMEOUT + FAILED_RETENTION)
            .expect_err("forgotten");
        assert_eq!(refusal, Refusal::no_such_order());
    }

    #[test]
    fn qr_code_is_accepted_up_to_its_max_age_and_not_from_the_future() {
        let person = TestPerson::demo();
        let t0 = OffsetDateTime::now_utc();
        for (claimed, scanned_at, accepted) in [
            (0, 0, true),
            (3, 8, true),
            (3, 9, false),
            (2, 0, false),
            (1, 0, true),
        ] {
            let mut orders = Orders::default();
            let order = orders.create(new_order(None), t0).expect("created");
            let scan = Scan::Qr(qr_data(
                &order.qr_start_token,
                &order.qr_start_secret,
                claimed,
            ));
            let result = orders.open(&scan, &person, None, t0 + Duration::seconds(scanned_at));
            assert_eq!(
                result.is_ok(),
                accepted,
                "code for {claimed} s scanned at {scanned_at} s: {result:?}"
            );
            if !accepted {
                assert_eq!(result, Err(AppError::StaleQr));
            }
        }
    }

    #[test]
    fn a_second_order_opened_in_the_same_app_cancels_the_first() {
        let mut orders = Orders::default();
        let person = TestPerson::demo();
        let t0 = OffsetDateTime::now_utc();
        let first = orders.create(new_order(None), t0).expect("created");
        let second = orders.create(new_order(None), t0).expect("created");
        orders
            .open(&Scan::AutoStart(first.auto_start_token), &person, None, t0)
            .expect("opens");
        orders
            .open(&Scan::AutoStart(second.auto_start_token), &person, None, t0)
            .expect("opens");
        assert_eq!(
            status(&mut orders, &first.order_ref, t0),
            (Status::Failed, Some(HintCode::Cancelled))
        );
        assert_eq!(
            status(&mut orders, &second.order_ref, t0),
            (Status::Pending, Some(HintCode::Started))
        );
    }

    #[test]
    fn order_for_another_person_cannot_be_opened() {
        let mut orders = Orders::default();
        let t0 = OffsetDateTime::now_utc();
        let order = orders
            .create(new_order(Some("198112289874")), t0)
            .expect("created");
        let result = orders.open(
            &Scan::AutoStart(order.auto_start_token),
            &TestPerson::demo(),
            None,
            t0,
        );
        assert_eq!(result, Err(AppError::WrongPerson));
    }

    #[test]
    fn mrtd_requirement_asks_for_the_document_then_the_code_and_reports_step_up() {
        let mut orders = Orders::default();
        let t0 = OffsetDateTime::now_utc();
        let mut request = new_order(None);
        request.mrtd = true;
        request.return_risk = true;
        let order = orders.create(request, t0).expect("created");
        let order_ref = orders
            .open(
                &Scan::AutoStart(order.auto_start_token),
                &TestPerson::demo(),
                None,
                t0,
            )
            .expect("opens");
        orders.ask_user(&order_ref, t0).expect("asks");
        assert_eq!(
            status(&mut orders, &order_ref, t0).1,
            Some(HintCode::UserMrtd)
        );
        orders.ask_user(&order_ref, t0).expect("asks");
        assert_eq!(
            status(&mut orders, &order_ref, t0).1,
            Some(HintCode::UserSign)
        );
        orders.complete(&order_ref, t0).expect("completes");
        let data = orders
            .collect(&order_ref, t0)
            .expect("collectable")
            .completion_data
            .expect("data");
        assert_eq!(data.step_up, Some(StepUp::new(true)));
        assert_eq!(data.risk, Some(Risk::Low));
    }

    #[test]
    fn the_device_ip_is_where_the_app_reached_bankid_from() {
        let t0 = OffsetDateTime::now_utc();
        let device_ip = |opened_from: Option<IpAddr>| {
            let mut orders = Orders::default();
            let order = orders.create(new_order(None), t0).expect("created");
            let order_ref = orders
                .open(
                    &Scan::AutoStart(order.auto_start_token),
                    &TestPerson::demo(),
                    opened_from,
                    t0,
                )
                .expect("opens");
            orders.complete(&order_ref, t0).expect("completes");
            orders
                .collect(&order_ref, t0)
                .expect("collectable")
                .completion_data
                .expect("data")
                .device
                .ip_address
        };
        // The app on the computer the RP saw, unless the test says it is elsewhere.
        assert_eq!(device_ip(None), "192.0.2.10");
        assert_eq!(
            device_ip(Some("203.0.113.44".parse().expect("ip"))),
            "203.0.113.44"
        );
    }
}
