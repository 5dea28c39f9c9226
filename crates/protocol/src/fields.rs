//! The values users type, parsed once at the edge: `Email`, `PhoneNumber`, `OneTimeCode`,
//! `Password`, and `SecretString` for secrets on the wire. Past this module nothing re-checks
//! strings. Secrets zeroize on drop and print `[redacted]`; none of these types may be logged.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Why a typed value was refused; each maps to one error code in [`crate::ErrorCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    InvalidEmail,
    InvalidPhone,
    InvalidCode,
    WeakPassword,
}

impl FieldError {
    /// The stable error code the server answers for this refusal.
    pub fn code(self) -> crate::ErrorCode {
        match self {
            FieldError::InvalidEmail => crate::ErrorCode::InvalidEmail,
            FieldError::InvalidPhone => crate::ErrorCode::InvalidPhone,
            FieldError::InvalidCode => crate::ErrorCode::InvalidCode,
            FieldError::WeakPassword => crate::ErrorCode::WeakPassword,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldError::InvalidEmail => "not an e-mail address",
            FieldError::InvalidPhone => "not a phone number",
            FieldError::InvalidCode => "a code is six digits",
            FieldError::WeakPassword => "a password has at least 8 characters",
        })
    }
}

impl std::error::Error for FieldError {}

/// A secret on the wire (password, code, session token): serialized as a plain JSON string,
/// zeroized on drop, `[redacted]` in `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself: use it, don't keep or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        SecretString(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for SecretString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

/// A syntactically valid e-mail address, normalized: trimmed and lowercased (the account's
/// username; mail systems treat the local part case-insensitively in practice).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let normalized = input.trim().to_lowercase();
        let (local, domain) = normalized
            .rsplit_once('@')
            .ok_or(FieldError::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let domain_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let chars_ok = normalized
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c));
        if local_ok && domain_ok && chars_ok && normalized.len() <= 254 {
            Ok(Email(normalized))
        } else {
            Err(FieldError::InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email([personal data])")
    }
}

/// A phone number in E.164 (`+46701234567`). Swedish national numbers (`070-123 45 67`) and
/// `00` international prefixes are accepted and converted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '\u{a0}'))
            .collect();
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix('0') {
            format!("46{rest}")
        } else {
            return Err(FieldError::InvalidPhone);
        };
        let shape_ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        // A Swedish number never keeps its trunk 0 after +46, and has 7 to 9 digits after it.
        let swedish_ok = match digits.strip_prefix("46") {
            Some(national) => !national.starts_with('0') && (7..=9).contains(&national.len()),
            None => true,
        };
        if shape_ok && swedish_ok {
            Ok(PhoneNumber(format!("+{digits}")))
        } else {
            Err(FieldError::InvalidPhone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the last two digits hidden, for showing which phone is on file.
    pub fn masked(&self) -> String {
        let keep = self.0.len().saturating_sub(2);
        let (hidden, shown) = self.0.split_at(keep);
        let country = hidden.get(..3).unwrap_or("+");
        format!("{country}{}{shown}", "•".repeat(keep.saturating_sub(3)))
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber([personal data])")
    }
}

/// A six-digit one-time code as the user typed it (spaces allowed, e.g. "123 456").
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub const DIGITS: usize = 6;

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let digits: Zeroizing<String> =
            Zeroizing::new(input.chars().filter(|c| !c.is_whitespace()).collect());
        if digits.len() == Self::DIGITS && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(OneTimeCode(digits.to_string()))
        } else {
            Err(FieldError::InvalidCode)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A password long enough to be accepted (at least 8 characters; no composition rules). Whether
/// it is too common is the server's policy, checked separately.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Far above any real password; keeps hashing cost bounded.
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(input: &SecretString) -> Result<Self, FieldError> {
        let text = input.expose();
        if text.chars().count() >= Self::MIN_CHARS && text.len() <= Self::MAX_BYTES {
            Ok(Password(text.to_owned()))
        } else {
            Err(FieldError::WeakPassword)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = Email::parse("  Amira.Demosson@Example.SE ").unwrap();
        assert_eq!(email.as_str(), "amira.demosson@example.se");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "amira",
            "amira@",
            "@example.se",
            "amira@example",
            "amira@@example.se",
            "am ira@example.se",
            "amira@exa_mple.se",
            "amira@.example.se",
            "a..b@example.se",
        ] {
            assert_eq!(Email::parse(bad), Err(FieldError::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn swedish_mobile_numbers_become_e164() {
        for input in [
            "0701234567",
            "070-123 45 67",
            "+46701234567",
            "0046701234567",
            "+46 (0)70 123 45 67".replace("(0)", "").as_str(),
        ] {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.as_str().to_owned()),
                Ok("+46701234567".to_owned()),
                "{input}"
            );
        }
        assert_eq!(
            PhoneNumber::parse("+4915112345678").unwrap().as_str(),
            "+4915112345678"
        );
    }

    #[test]
    fn bad_phone_numbers_are_refused() {
        for bad in [
            "",
            "070",
            "abc",
            "+460701234567",
            "701234567",
            "+1234567890123456",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(FieldError::InvalidPhone),
                "{bad}"
            );
        }
    }

    #[test]
    fn masked_phone_shows_country_and_last_two_digits() {
        let phone = PhoneNumber::parse("+46701234567").unwrap();
        assert_eq!(phone.masked(), "+46•••••••67");
    }

    #[test]
    fn code_is_six_digits_spaces_allowed() {
        assert_eq!(OneTimeCode::parse("123 456").unwrap().expose(), "123456");
        for bad in ["12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert!(OneTimeCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_needs_eight_characters_not_bytes() {
        assert!(Password::parse(&"kort".into()).is_err());
        assert!(Password::parse(&"åäöåäöå".into()).is_err());
        assert!(Password::parse(&"åäöåäöåä".into()).is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let secret = SecretString::from("hunter22hunter22");
        let code = OneTimeCode::parse("123456").unwrap();
        let password = Password::parse(&secret).unwrap();
        let email = Email::parse("amira@example.se").unwrap();
        let phone = PhoneNumber::parse("0701234567").unwrap();
        let all = format!("{secret:?} {code:?} {password:?} {email:?} {phone:?}");
        for leaked in ["hunter", "123456", "amira", "701234567"] {
            assert!(!all.contains(leaked), "{all}");
        }
    }

    #[test]
    fn secret_string_is_a_plain_json_string() {
        let secret = SecretString::from("s3cret-value");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"s3cret-value\"");
        let back: SecretString = serde_json::from_str("\"s3cret-value\"").unwrap();
        assert_eq!(back, secret);
    }
}
