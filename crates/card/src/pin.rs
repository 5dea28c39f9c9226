//! The PIN as a type: parsed once from what the user typed, zeroized on drop, never printed.
//! SITHS PINs are 6 to 8 digits; PIV allows any 6–8 bytes, but accepting only digits turns
//! a mistyped letter into a clear message instead of a spent try.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// A card PIN: 6 to 8 ASCII digits.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin(Vec<u8>);

impl Pin {
    /// The shortest PIN accepted.
    pub const MIN_LEN: usize = 6;
    /// The longest PIN accepted (the PIV PIN field is 8 bytes).
    pub const MAX_LEN: usize = 8;

    /// Parses what the user typed. The input is not kept on failure.
    pub fn parse(typed: &str) -> Result<Self> {
        let bytes = typed.as_bytes();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len())
            || !bytes.iter().all(u8::is_ascii_digit)
        {
            return Err(Error::InvalidPin);
        }
        Ok(Pin(bytes.to_vec()))
    }

    /// The PIN as sent to the card: ASCII, padded with 0xFF to 8 bytes (PIV and the
    /// PKCS#15 cards we support use the same padding).
    pub(crate) fn padded(&self) -> zeroize::Zeroizing<[u8; 8]> {
        let mut block = zeroize::Zeroizing::new([0xFF; 8]);
        block[..self.0.len()].copy_from_slice(&self.0);
        block
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_six_to_eight_digits_only() {
        assert!(Pin::parse("123456").is_ok());
        assert!(Pin::parse("12345678").is_ok());
        for bad in ["12345", "123456789", "12345a", "", "１２３４５６"] {
            assert_eq!(Pin::parse(bad).unwrap_err(), Error::InvalidPin, "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_digits() {
        let pin = Pin::parse("246813").unwrap();
        assert_eq!(format!("{pin:?}"), "[redacted]");
    }

    #[test]
    fn padded_with_ff_to_eight() {
        let pin = Pin::parse("123456").unwrap();
        assert_eq!(*pin.padded(), *b"123456\xFF\xFF");
    }
}
