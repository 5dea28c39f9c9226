//! The values BankID hands us or we hand it, parsed once at the edge: `OrderRef`,
//! `AutoStartToken`, `QrStartToken` (UUIDs), `QrStartSecret` (zeroized, `[redacted]` in `Debug`)
//! and `Personnummer` (checksum verified, masked in `Debug`). None of these may be logged whole
//! except the order reference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A value that does not have the shape BankID gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    #[error("not a UUID")]
    NotUuid,
    #[error("a personnummer is 12 digits (YYYYMMDDNNNC) with a valid date and check digit")]
    InvalidPersonnummer,
    #[error("user visible data must not be empty")]
    EmptyUserVisibleData,
}

macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random value (the simulator issues these).
            pub fn random() -> Self {
                $name(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            fn from_str(value: &str) -> Result<Self, FieldError> {
                Uuid::try_parse(value.trim()).map($name).map_err(|_| FieldError::NotUuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // BankID writes UUIDs lowercase and hyphenated; so do we.
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                value.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_newtype!(
    /// The order's id at BankID: what `/collect` and `/cancel` take.
    OrderRef
);
uuid_newtype!(
    /// Starts the BankID app on this device (`bankid:///?autostarttoken=…`).
    AutoStartToken
);
uuid_newtype!(
    /// The public part of the animated QR code.
    QrStartToken
);

/// The key of the animated QR code's HMAC. Stays on the server; zeroized on drop; `[redacted]`
/// in `Debug`; never logged.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct QrStartSecret(String);

impl QrStartSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        QrStartSecret(secret.into())
    }

    /// A fresh random secret (the simulator issues these; BankID's are UUIDs too).
    pub fn random() -> Self {
        QrStartSecret(Uuid::new_v4().hyphenated().to_string())
    }

    /// The secret itself, for the HMAC: use it, don't keep or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for QrStartSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for QrStartSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for QrStartSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(QrStartSecret)
    }
}

/// A Swedish personal identity number (or coordination number, day + 60) in BankID's
/// 12-digit form `YYYYMMDDNNNC`, with the Luhn check digit verified over the last ten digits.
/// `Debug` shows only the birth date; there is no `Display`, so it cannot slip into a format
/// string: call [`Personnummer::expose`] where the digits are really needed.
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct Personnummer(String);

impl Personnummer {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let digits: Vec<u8> = value.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        if digits.len() != 12 || digits.iter().any(|d| *d > 9) {
            return Err(FieldError::InvalidPersonnummer);
        }
        let month = digits[4] * 10 + digits[5];
        let day = digits[6] * 10 + digits[7];
        let day_ok = (1..=31).contains(&day) || (61..=91).contains(&day);
        if !(1..=12).contains(&month) || !day_ok {
            return Err(FieldError::InvalidPersonnummer);
        }
        if luhn_check_digit(&digits[2..11]) != digits[11] {
            return Err(FieldError::InvalidPersonnummer);
        }
        Ok(Personnummer(value.to_owned()))
    }

    /// The 12 digits: for BankID requests and the server's own records, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `YYYYMMDD-****`: what a user may be shown to recognise their own number.
    pub fn masked(&self) -> String {
        format!("{}-****", &self.0[..8])
    }
}

/// The Luhn check digit for `digits` (each 0–9): weights 2, 1, 2, … from the left, as
/// Skatteverket computes it over YYMMDDNNN.
pub(crate) fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(index, digit)| {
            let weighted = u32::from(*digit) * if index % 2 == 0 { 2 } else { 1 };
            weighted / 10 + weighted % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl FromStr for Personnummer {
    type Err = FieldError;

    fn from_str(value: &str) -> Result<Self, FieldError> {
        Personnummer::parse(value)
    }
}

impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personnummer({})", self.masked())
    }
}

impl Serialize for Personnummer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Personnummer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Personnummer::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personnummer_accepts_valid_check_digits() {
        for valid in [
            "199001012385",
            "198112289874",
            "200001010107",
            "190001010008",
        ] {
            assert!(Personnummer::parse(valid).is_ok(), "{valid}");
        }
    }

    #[test]
    fn personnummer_refuses_wrong_check_digit_length_letters_and_dates() {
        for invalid in [
            "199001012384",
            "19900101238",
            "1990010123855",
            "9001012385",
            "19900101-2385",
            "19900101238X",
            "199013012385",
            "199001322385",
            "",
        ] {
            assert_eq!(
                Personnummer::parse(invalid),
                Err(FieldError::InvalidPersonnummer),
                "{invalid}"
            );
        }
    }

    #[test]
    fn coordination_numbers_have_day_plus_sixty() {
        let digits: Vec<u8> = "900161238".bytes().map(|b| b - b'0').collect();
        let number = format!("19900161238{}", luhn_check_digit(&digits));
        assert!(Personnummer::parse(&number).is_ok());
    }

    #[test]
    fn personnummer_debug_and_masked_hide_the_last_four_digits() {
        let number = Personnummer::parse("199001012385").expect("valid");
        assert_eq!(format!("{number:?}"), "Personnummer(19900101-****)");
        assert_eq!(number.masked(), "19900101-****");
    }

    #[test]
    fn qr_start_secret_is_redacted_in_debug() {
        let secret = QrStartSecret::new("d28db9a7-4cde-429e-a983-359be676944c");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn uuids_parse_and_print_lowercase() {
        let order: OrderRef = "131DAAC9-16C6-4618-BEB0-365768F37288"
            .parse()
            .expect("uuid");
        assert_eq!(order.to_string(), "131daac9-16c6-4618-beb0-365768f37288");
        assert_eq!("not-a-uuid".parse::<OrderRef>(), Err(FieldError::NotUuid));
    }
}
