//! What SMS may cost: every code sent by SMS is counted before it is sent, per account (10 a
//! day), per destination number (5 a day) and per client address (configured, 10 a day by
//! default), and goes only to the allowed country calling codes (`sms_allowed_countries`).
//! SMS costs money per message and can be pointed at premium numbers: a send over any quota
//! is `429 rate_limited` and sends nothing.

use std::net::IpAddr;

use legitimera_protocol::PhoneNumber;

use crate::error::{ApiError, Result};
use crate::extract::limit_key;
use crate::ratelimit::{hashed_key, Limiter};
use crate::AppState;

/// The window of every SMS quota.
pub const DAY_SECONDS: i64 = 24 * 60 * 60;
pub const PER_ACCOUNT_PER_DAY: i64 = 10;
pub const PER_NUMBER_PER_DAY: i64 = 5;
/// The default for `sms_per_address_per_day`: no more than one account may send.
pub const PER_ADDRESS_PER_DAY: i64 = 10;

/// Whether SMS may go to `phone` at all: its country calling code is allowed (an empty list
/// allows every country, since applicants may have foreign numbers).
pub fn check_country(state: &AppState, phone: &PhoneNumber) -> Result<()> {
    let allowed = state.sms_allowed_countries();
    let digits = phone.as_str().trim_start_matches('+');
    if allowed.is_empty() || allowed.iter().any(|code| digits.starts_with(code.as_str())) {
        Ok(())
    } else {
        Err(ApiError::PhoneCountryNotAllowed)
    }
}

/// One SMS counted against its quotas; [`Reserved::give_back`] when nothing was sent.
#[derive(Debug)]
pub struct Reserved {
    counted: Vec<(Limiter, String)>,
}

/// Counts one SMS to `phone` for `owner` (an account id, or a hashed address for a
/// registration) from `ip`, or refuses it (and then counts nothing).
pub async fn reserve(
    state: &AppState,
    owner: &str,
    phone: &PhoneNumber,
    ip: IpAddr,
) -> Result<Reserved> {
    check_country(state, phone)?;
    let limits = state.limits();
    let quotas = [
        (limits.sms_account, owner.to_owned()),
        (limits.sms_number, hashed_key("sms_number", phone.as_str())),
        (limits.sms_ip, limit_key(ip)),
    ];
    let mut reserved = Reserved {
        counted: Vec::new(),
    };
    for (limiter, key) in quotas {
        if let Err(refused) = limiter.reserve(state, &key).await {
            reserved.give_back(state).await?;
            return Err(refused);
        }
        reserved.counted.push((limiter, key));
    }
    Ok(reserved)
}

impl Reserved {
    /// Nothing was sent: the quotas get this SMS back.
    pub async fn give_back(&mut self, state: &AppState) -> Result<()> {
        for (limiter, key) in self.counted.drain(..) {
            limiter.release(state, &key).await?;
        }
        Ok(())
    }
}
