//! The animated QR code: a pure function of (qrStartToken, qrStartSecret, seconds since the
//! order was created). The caller owns the clock; this module never reads it.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fields::{QrStartSecret, QrStartToken};

/// `HMAC-SHA256(key = secret as ASCII, message = seconds as ASCII decimal)`, lowercase hex.
pub fn qr_auth_code(secret: &QrStartSecret, seconds: u64) -> String {
    let mut code = [0; 64];
    hex_into(&qr_mac(secret, seconds).finalize().into_bytes(), &mut code);
    ascii(&code).to_owned()
}

/// The longest QR content: `bankid.` (7), a hyphenated UUID (36), `.`, the seconds (at most
/// 20 digits), `.`, 64 hex digits.
const QR_DATA_MAX_LEN: usize = 7 + 36 + 1 + 20 + 1 + 64;

/// The QR content for second `seconds` of the order:
/// `bankid.<qrStartToken>.<seconds>.<qrAuthCode>`. Written on the stack and copied into one
/// allocation of its size: the server answers every poll of a pending "other device" order
/// with it (`format!` with the hex crate's iterator cost more than the HMAC itself).
pub fn qr_data(qr_start_token: &QrStartToken, secret: &QrStartSecret, seconds: u64) -> String {
    let mut data = [0; QR_DATA_MAX_LEN];
    let mut at = 0;
    let mut put = |part: &[u8]| {
        data[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    };
    put(b"bankid.");
    put(qr_start_token
        .as_uuid()
        .hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .as_bytes());
    put(b".");
    put(decimal(seconds, &mut [0; 20]).as_bytes());
    put(b".");
    let mut code = [0; 64];
    hex_into(&qr_mac(secret, seconds).finalize().into_bytes(), &mut code);
    put(&code);
    ascii(&data[..at]).to_owned()
}

/// `bytes` (32 of them) in lowercase hex.
fn hex_into(bytes: &[u8], out: &mut [u8; 64]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// ASCII bytes as text (everything written here is ASCII: digits, hex, a UUID, `bankid.`).
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// `value` in ASCII decimal, written into the end of `buffer` (20 digits hold any `u64`).
fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        // A single digit: `value % 10 < 10`, so the cast cannot truncate.
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    ascii(&buffer[start..])
}

/// One order's animated QR code: what the server keeps to answer "the QR data now". The time
/// is whole seconds since the `/auth` answer arrived, so the code changes once a second.
#[derive(Debug, Clone)]
pub struct AnimatedQr {
    qr_start_token: QrStartToken,
    secret: QrStartSecret,
    answered_at: Instant,
}

impl AnimatedQr {
    /// `answered_at`: when the `/auth` or `/sign` answer arrived.
    pub fn new(qr_start_token: QrStartToken, secret: QrStartSecret, answered_at: Instant) -> Self {
        AnimatedQr {
            qr_start_token,
            secret,
            answered_at,
        }
    }

    /// The QR data to show at `now`.
    pub fn data_at(&self, now: Instant) -> String {
        let seconds = now.saturating_duration_since(self.answered_at).as_secs();
        qr_data(&self.qr_start_token, &self.secret, seconds)
    }

    /// When the code shown at `now` is replaced by the next one.
    pub fn next_change_after(&self, now: Instant) -> Instant {
        let seconds = now.saturating_duration_since(self.answered_at).as_secs();
        self.answered_at + Duration::from_secs(seconds + 1)
    }
}

/// QR content split into its parts, as the BankID app reads it. The code is not checked here:
/// only the holder of the secret can do that ([`ScannedQr::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedQr {
    pub qr_start_token: QrStartToken,
    pub seconds: u64,
    auth_code: String,
}

impl ScannedQr {
    /// `None` for anything that is not `bankid.<uuid>.<decimal>.<64 hex>`.
    pub fn parse(data: &str) -> Option<ScannedQr> {
        let mut parts = data.trim().split('.');
        if parts.next()? != "bankid" {
            return None;
        }
        let qr_start_token = parts.next()?.parse().ok()?;
        let seconds_text = parts.next()?;
        if seconds_text.is_empty() || !seconds_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seconds = seconds_text.parse().ok()?;
        let auth_code = parts.next()?;
        if parts.next().is_some()
            || auth_code.len() != 64
            || !auth_code.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        Some(ScannedQr {
            qr_start_token,
            seconds,
            auth_code: auth_code.to_ascii_lowercase(),
        })
    }

    /// Whether the code was made with `secret` for the time it states (constant time).
    pub fn verify(&self, secret: &QrStartSecret) -> bool {
        let Ok(expected) = hex::decode(&self.auth_code) else {
            return false;
        };
        qr_mac(secret, self.seconds).verify_slice(&expected).is_ok()
    }
}

fn qr_mac(secret: &QrStartSecret, seconds: u64) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(decimal(seconds, &mut [0; 20]).as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_token() -> QrStartToken {
        "67df3917-fa0d-44e5-b327-edcc928297f8"
            .parse()
            .expect("uuid")
    }

    fn vector_secret() -> QrStartSecret {
        QrStartSecret::new("d28db9a7-4cde-429e-a983-359be676944c")
    }

    #[test]
    fn seconds_are_written_in_decimal_like_to_string() {
        for value in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
            assert_eq!(decimal(value, &mut [0; 20]), value.to_string());
        }
        let longest = qr_data(&vector_token(), &vector_secret(), u64::MAX);
        assert_eq!(longest.len(), QR_DATA_MAX_LEN);
        assert_eq!(
            longest.capacity(),
            QR_DATA_MAX_LEN,
            "one allocation, never grown"
        );
    }

    #[test]
    fn published_test_vectors() {
        let vectors = [
            (
                0,
                "dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8",
            ),
            (
                1,
                "949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2",
            ),
            (
                2,
                "a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3",
            ),
        ];
        for (seconds, code) in vectors {
            assert_eq!(qr_auth_code(&vector_secret(), seconds), code, "t={seconds}");
            assert_eq!(
                qr_data(&vector_token(), &vector_secret(), seconds),
                format!("bankid.67df3917-fa0d-44e5-b327-edcc928297f8.{seconds}.{code}")
            );
        }
    }

    #[test]
    fn animated_qr_changes_on_whole_seconds_since_the_answer() {
        let answered_at = Instant::now();
        let qr = AnimatedQr::new(vector_token(), vector_secret(), answered_at);
        let vector = |seconds| qr_data(&vector_token(), &vector_secret(), seconds);
        assert_eq!(qr.data_at(answered_at), vector(0));
        assert_eq!(
            qr.data_at(answered_at + Duration::from_millis(999)),
            vector(0)
        );
        assert_eq!(
            qr.data_at(answered_at + Duration::from_millis(1000)),
            vector(1)
        );
        assert_eq!(
            qr.data_at(answered_at + Duration::from_millis(2500)),
            vector(2)
        );
        assert_eq!(
            qr.next_change_after(answered_at + Duration::from_millis(2500)),
            answered_at + Duration::from_secs(3)
        );
        // A clock read before the answer (another thread) shows the first code, not a panic.
        assert_eq!(
            qr.data_at(answered_at - Duration::from_millis(5)),
            vector(0)
        );
    }

    #[test]
    fn scanned_qr_verifies_only_with_its_secret_and_time() {
        let data = qr_data(&vector_token(), &vector_secret(), 7);
        let scanned = ScannedQr::parse(&data).expect("well formed");
        assert_eq!(scanned.seconds, 7);
        assert_eq!(scanned.qr_start_token, vector_token());
        assert!(scanned.verify(&vector_secret()));
        assert!(!scanned.verify(&QrStartSecret::new("another secret")));

        // The same code claimed for another second must not verify.
        let code = qr_auth_code(&vector_secret(), 7);
        let moved = format!("bankid.{}.8.{code}", vector_token());
        assert!(!ScannedQr::parse(&moved)
            .expect("well formed")
            .verify(&vector_secret()));
    }

    #[test]
    fn malformed_qr_data_is_refused() {
        let code = qr_auth_code(&vector_secret(), 0);
        let token = vector_token();
        for bad in [
            String::new(),
            format!("bankid.{token}.0"),
            format!("bankid.{token}.-1.{code}"),
            format!("bankid.{token}.0.{code}.extra"),
            format!("bankid.not-a-uuid.0.{code}"),
            format!("other.{token}.0.{code}"),
            format!("bankid.{token}.0.{}", &code[..63]),
            format!("bankid.{token}.0.{}z", &code[..63]),
        ] {
            assert_eq!(ScannedQr::parse(&bad), None, "{bad}");
        }
    }
}
