//! Trusted devices ("trust this device for 30 days", personal computers only): after an SMS
//! login the app gets a device token for the OS keyring, and with the right password that
//! token stands in for the SMS code. The token is handed out once and stored only as its
//! SHA-256. Never logs a token or a label (the user may have named the device after themself).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use legitimera_protocol::{DevicesAnswer, ForgetDeviceRequest, SecretString, TrustedDevice};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{ApiError, Result};
use crate::extract::{limit_key, Body, ClientIp};
use crate::sessions::{self, LiveSession};
use crate::{store, AppState};

/// How long a device stays trusted from when it was made (not renewed by use).
pub const TRUST_SECONDS: i64 = 30 * 24 * 60 * 60;
/// The longest label kept, in characters; longer ones are cut.
pub const MAX_LABEL_CHARS: usize = 64;
/// The label of a device whose app sent none (or only spaces and control characters).
pub const DEFAULT_LABEL: &str = "Legitimera";

/// What a device is called in the list: trimmed, without control characters, at most
/// [`MAX_LABEL_CHARS`] characters, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLabel(String);

impl DeviceLabel {
    /// Cleans whatever the app sent; nothing is refused, since the label is only shown.
    pub fn from_request(text: Option<&str>) -> Self {
        let printable: String = text
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let cut: String = printable.trim().chars().take(MAX_LABEL_CHARS).collect();
        match cut.trim_end() {
            "" => DeviceLabel(DEFAULT_LABEL.to_owned()),
            label => DeviceLabel(label.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A device just trusted: its id, and its token (shown to the app once).
#[derive(Debug)]
pub struct NewDevice {
    pub id: String,
    pub token: SecretString,
}

/// Trusts a device for the account for [`TRUST_SECONDS`]. Sweeps devices that can never be
/// trusted again (expired or revoked) first, as challenges and sessions sweep themselves.
pub async fn create(state: &AppState, account_id: i64, label: &DeviceLabel) -> Result<NewDevice> {
    let now = state.now();
    store::devices::sweep(state.pool(), now).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let token = sessions::new_token();
    store::devices::insert(
        state.pool(),
        &store::devices::NewDevice {
            id: &id,
            account_id,
            token_hash: &sessions::token_hash(token.expose()),
            label: label.as_str(),
            created_at: now,
            expires_at: now.saturating_add(TRUST_SECONDS),
        },
    )
    .await?;
    Ok(NewDevice { id, token })
}

/// The id of the account's device with this token if it is still trusted (not expired, not
/// revoked), marked as used now; `None` for any other token, another account's included.
pub async fn use_token(
    state: &AppState,
    account_id: i64,
    token: &SecretString,
) -> Result<Option<String>> {
    Ok(store::devices::use_token(
        state.pool(),
        account_id,
        &sessions::token_hash(token.expose()),
        state.now(),
    )
    .await?)
}

/// Revokes every device of the account (its two-step phone was replaced without a session:
/// whoever held a trusted device must answer an SMS code to the new number).
pub async fn revoke_all(state: &AppState, account_id: i64) -> Result<()> {
    store::devices::revoke_all(state.pool(), account_id, state.now()).await?;
    Ok(())
}

/// `GET /api/v1/devices`: the account's devices still trusted, newest first. Sessions without
/// an account (BankID, SITHS) have none.
pub async fn list(
    State(state): State<AppState>,
    session: LiveSession,
) -> Result<Json<DevicesAnswer>> {
    let Some(account_id) = session.account_id() else {
        return Ok(Json(DevicesAnswer { devices: vec![] }));
    };
    let rows = store::devices::live(state.pool(), account_id, state.now()).await?;
    let devices = rows
        .into_iter()
        .map(|(id, label, created_at, expires_at, last_used_at)| {
            Ok(TrustedDevice {
                current: session.device_id.as_deref() == Some(id.as_str()),
                id,
                label,
                created_at: rfc3339(created_at)?,
                expires_at: rfc3339(expires_at)?,
                last_used_at: last_used_at.map(rfc3339).transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Json(DevicesAnswer { devices }))
}

/// `DELETE /api/v1/devices/{id}`: Min sida removes one of the account's devices. Another
/// account's, an unknown, an expired or an already removed device is `404 not_found` alike.
pub async fn remove(
    State(state): State<AppState>,
    session: LiveSession,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let account_id = session.account_id().ok_or(ApiError::NotFound)?;
    let now = state.now();
    let revoked = store::devices::revoke(state.pool(), account_id, &id, now).await?;
    if !revoked {
        return Err(ApiError::NotFound);
    }
    tracing::info!("trusted device removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/devices/forget`: "Glöm den här enheten", proven by the token alone. Always
/// `204`, so the answer tells nothing about the token; limited per client address.
pub async fn forget(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<ForgetDeviceRequest>,
) -> Result<StatusCode> {
    state
        .limits()
        .device_forget_ip
        .reserve(&state, &limit_key(ip))
        .await?;
    let now = state.now();
    store::devices::revoke_by_token(
        state.pool(),
        &sessions::token_hash(request.device_token.expose()),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A stored Unix time as RFC 3339 (`2026-11-25T23:51:20Z`).
fn rfc3339(unix: i64) -> Result<String> {
    let at = OffsetDateTime::from_unix_timestamp(unix).map_err(anyhow::Error::from)?;
    Ok(at.format(&Rfc3339).map_err(anyhow::Error::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_is_trimmed_cleaned_cut_and_never_empty() {
        assert_eq!(
            DeviceLabel::from_request(Some("  Legitimera, Linux \n")).as_str(),
            "Legitimera, Linux"
        );
        assert_eq!(
            DeviceLabel::from_request(Some("Min\u{7}\u{1b}[31m dator")).as_str(),
            "Min[31m dator"
        );
        assert_eq!(DeviceLabel::from_request(None).as_str(), DEFAULT_LABEL);
        assert_eq!(
            DeviceLabel::from_request(Some(" \t\r\n ")).as_str(),
            DEFAULT_LABEL
        );
        let long = "å".repeat(100);
        assert_eq!(
            DeviceLabel::from_request(Some(&long))
                .as_str()
                .chars()
                .count(),
            MAX_LABEL_CHARS
        );
        assert_eq!(
            DeviceLabel::from_request(Some(&format!("{} x", "a".repeat(63)))).as_str(),
            "a".repeat(63),
            "a cut that ends in a space is trimmed again"
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0).ok().as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
