//! Every way card access can fail, each with a stable machine code the UI maps to a localized,
//! actionable sentence. Messages are for developers and logs and never contain a PIN or
//! personal data.

use legitimera_protocol::ErrorCode;
use serde::Serialize;

/// A card operation's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the words the user's next step depends on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PC/SC service (pcscd, the Windows Smart Card service) is not running.
    #[error("the smart card service is not running")]
    NoPcscService,
    /// No card reader is connected, or the named reader is gone.
    #[error("no card reader is connected")]
    NoReader,
    /// The reader is empty.
    #[error("there is no card in the reader")]
    NoCard,
    /// The card was taken out while it was being used.
    #[error("the card was removed while it was in use")]
    CardRemoved,
    /// Another program reset the card between our commands.
    #[error("the card was reset by another program")]
    CardReset,
    /// Another program holds the card exclusively (often the Net iD middleware).
    #[error("another program is using the card")]
    CardBusy,
    /// The PIN was wrong; `tries_left` more wrong PINs block it.
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    /// The PIN is blocked; it must be unblocked with the PUK.
    #[error("the PIN is blocked")]
    PinBlocked,
    /// What was typed is not a PIN this kind of card accepts (6–8 digits).
    #[error("a PIN is 6 to 8 digits")]
    InvalidPin,
    /// The card has neither a PIV nor a PKCS#15 application, or lacks the requested key.
    #[error("the card is not a supported e-service ID card: {0}")]
    UnsupportedCard(String),
    /// The card answered something malformed or refused a command it should accept.
    #[error("the card answered unexpectedly: {0}")]
    Card(String),
    /// A PC/SC failure that fits no other kind.
    #[error("smart card service error: {0}")]
    Pcsc(String),
}

impl Error {
    /// The stable machine code the UI maps to a localized message. A wrong PIN with one try
    /// left has its own code: the sentence must say that the next wrong PIN blocks the card.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NoPcscService => ErrorCode::NoPcscService,
            Error::NoReader => ErrorCode::NoReader,
            Error::NoCard => ErrorCode::NoCard,
            Error::CardRemoved => ErrorCode::CardRemoved,
            Error::CardReset => ErrorCode::CardReset,
            Error::CardBusy => ErrorCode::CardBusy,
            Error::WrongPin { tries_left: 1 } => ErrorCode::WrongPinLast,
            Error::WrongPin { .. } => ErrorCode::WrongPin,
            Error::PinBlocked => ErrorCode::PinBlocked,
            Error::InvalidPin => ErrorCode::InvalidPin,
            Error::UnsupportedCard(_) => ErrorCode::UnsupportedCard,
            Error::Card(_) => ErrorCode::CardError,
            Error::Pcsc(_) => ErrorCode::PcscError,
        }
    }

    /// `{ code, message, tries_left? }`, what crosses to the UI.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
            tries_left: match self {
                Error::WrongPin { tries_left } => Some(*tries_left),
                _ => None,
            },
        }
    }

    pub(crate) fn card(what: impl Into<String>) -> Self {
        Error::Card(what.into())
    }
}

/// The serialisable form of an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u8>,
}

impl From<pcsc::Error> for Error {
    fn from(error: pcsc::Error) -> Self {
        use pcsc::Error as P;
        match error {
            P::NoService | P::ServiceStopped => Error::NoPcscService,
            P::NoReadersAvailable | P::UnknownReader | P::ReaderUnavailable => Error::NoReader,
            P::NoSmartcard => Error::NoCard,
            P::RemovedCard => Error::CardRemoved,
            P::ResetCard => Error::CardReset,
            P::SharingViolation => Error::CardBusy,
            P::UnsupportedCard | P::UnpoweredCard | P::UnresponsiveCard => {
                Error::UnsupportedCard(error.to_string())
            }
            other => Error::Pcsc(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcsc_errors_map_to_the_codes_the_ui_knows() {
        assert_eq!(
            Error::from(pcsc::Error::NoService).code(),
            "no_pcsc_service"
        );
        assert_eq!(
            Error::from(pcsc::Error::NoReadersAvailable).code(),
            "no_reader"
        );
        assert_eq!(Error::from(pcsc::Error::NoSmartcard).code(), "no_card");
        assert_eq!(Error::from(pcsc::Error::RemovedCard).code(), "card_removed");
        assert_eq!(
            Error::from(pcsc::Error::SharingViolation).code(),
            "card_busy"
        );
    }

    #[test]
    fn the_last_try_has_its_own_code() {
        assert_eq!(
            Error::WrongPin { tries_left: 2 }.code(),
            ErrorCode::WrongPin
        );
        assert_eq!(
            Error::WrongPin { tries_left: 1 }.code(),
            ErrorCode::WrongPinLast
        );
    }

    #[test]
    fn wrong_pin_body_carries_tries_left() {
        let body = Error::WrongPin { tries_left: 2 }.to_body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "wrong_pin");
        assert_eq!(json["tries_left"], 2);
        let json = serde_json::to_value(Error::NoReader.to_body()).unwrap();
        assert!(json.get("tries_left").is_none());
    }
}
