//! The one vocabulary of error codes: what the server answers in `{code, message}`, what the
//! app's own failures are called (backend unreachable, card, session timing), and what the UI
//! maps to a localized sentence. The list of values is generated with the enum, so a test that
//! iterates [`ErrorCode::ALL`] cannot miss a new one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who says a code: the server on the wire, the app about itself, or the app about the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Server,
    App,
    Card,
}

macro_rules! error_codes {
    ($( $origin:ident { $( $(#[doc = $doc:literal])* $variant:ident = $code:literal, )* } )*) => {
        /// A stable machine code. Serialized as its `snake_case` text; a code this version does
        /// not know (from a newer server) parses as [`ErrorCode::Unknown`], never as an error.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($( $(#[doc = $doc])* $variant, )*)*
            /// A code this version does not know; the UI shows its generic sentence.
            Unknown,
        }

        impl ErrorCode {
            /// Every code, `Unknown` last.
            pub const ALL: &'static [ErrorCode] = &[$($(ErrorCode::$variant,)*)* ErrorCode::Unknown];

            /// The code's text on the wire and in the UI catalogs (`error.<code>`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($(ErrorCode::$variant => $code,)*)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// Who says it. `Unknown` counts as the server's (only a server sends codes the app
            /// does not know).
            pub const fn origin(self) -> Origin {
                match self {
                    $($(ErrorCode::$variant => Origin::$origin,)*)*
                    ErrorCode::Unknown => Origin::Server,
                }
            }

            /// The code for `text`; `Unknown` for any text this version does not know.
            pub fn parse(text: &str) -> ErrorCode {
                match text {
                    $($($code => ErrorCode::$variant,)*)*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    Server {
        /// No such route or resource.
        NotFound = "not_found",
        /// The body is not valid JSON of the expected shape, or a query is malformed.
        BadRequest = "bad_request",
        /// The route exists, but not with this method.
        MethodNotAllowed = "method_not_allowed",
        /// The body is larger than the server takes (64 KiB by default).
        PayloadTooLarge = "payload_too_large",
        /// The request's path and query are longer than the server reads (64 KiB).
        UriTooLong = "uri_too_long",
        /// The request's headers are larger than the server reads (about 400 KiB, or over 100
        /// of them).
        HeadersTooLarge = "headers_too_large",
        /// A body that is not `Content-Type: application/json`.
        UnsupportedMediaType = "unsupported_media_type",
        /// The request (its body, or its work) took longer than the server allows.
        RequestTimeout = "request_timeout",
        /// The server is at its limit of requests at once (or of password hashes waiting):
        /// try again after `retry_after` seconds.
        Overloaded = "overloaded",
        Internal = "internal",
        DatabaseUnavailable = "database_unavailable",
        /// The e-mail address is not a valid address.
        InvalidEmail = "invalid_email",
        /// The phone number is not a valid number (E.164 or Swedish national).
        InvalidPhone = "invalid_phone",
        /// The code is not six digits (no try was used).
        InvalidCode = "invalid_code",
        /// The password is shorter than 8 characters.
        WeakPassword = "weak_password",
        /// The password is on the list of common passwords.
        CommonPassword = "common_password",
        /// The code is wrong; `tries_left` says how many more tries this step accepts.
        WrongCode = "wrong_code",
        /// The code is older than 10 minutes: ask for a new one (`resend`).
        CodeExpired = "code_expired",
        /// Too many wrong codes (or resends) for this step: start over.
        TooManyAttempts = "too_many_attempts",
        /// A new code was asked for too soon; `retry_after` says when.
        ResendTooSoon = "resend_too_soon",
        /// Too many attempts for this account or from this address; `retry_after` says when.
        RateLimited = "rate_limited",
        /// Unknown e-mail or wrong password (deliberately not saying which).
        InvalidCredentials = "invalid_credentials",
        /// The password is right, but many wrong ones were tried before it: a code was sent to
        /// the account's e-mail; answer it at `POST /login/email-code` with `id`.
        EmailCodeRequired = "email_code_required",
        /// The session ended by the idle or absolute limit: log in again.
        SessionExpired = "session_expired",
        /// No session, an unknown token, or one that was logged out.
        Unauthorized = "unauthorized",
        /// The registration, login or phone change is unknown, finished or too old.
        UnknownChallenge = "unknown_challenge",
        /// The step answered does not match where the registration or phone change is.
        WrongStep = "wrong_step",
        /// The e-mail could not be sent; `id` can be resent later.
        EmailUnavailable = "email_unavailable",
        /// The SMS could not be sent; `id` can be resent later.
        SmsUnavailable = "sms_unavailable",
        /// The new phone number is the one already on the account.
        SamePhone = "same_phone",
        /// SMS is not sent to this number's country (`sms_allowed_countries`).
        PhoneCountryNotAllowed = "phone_country_not_allowed",
        /// BankID already has an identification in progress for this person (RFA4).
        BankidAlreadyInProgress = "bankid_already_in_progress",
        /// BankID cannot be reached or refused, or is not set up on this server (RFA5).
        BankidUnavailable = "bankid_unavailable",
        /// "BankID on this computer" was completed by a BankID app at another address than the
        /// computer that started it (a relayed login): refused; start again on this computer.
        BankidIpMismatch = "bankid_ip_mismatch",
        /// The SITHS challenge is unknown, already used or older than 2 minutes.
        SithsUnknownChallenge = "siths_unknown_challenge",
        /// The card's certificate is not from a trusted SITHS issuer (or names no HSA-id).
        SithsUntrustedCertificate = "siths_untrusted_certificate",
        /// The card's certificate (or one above it) has expired.
        SithsCertificateExpired = "siths_certificate_expired",
        /// The card's certificate is not valid yet.
        SithsCertificateNotYetValid = "siths_certificate_not_yet_valid",
        /// Not an authentication certificate (e.g. the signing one was sent).
        SithsWrongKeyUsage = "siths_wrong_key_usage",
        /// The signature does not match the challenge and the certificate.
        SithsBadSignature = "siths_bad_signature",
        /// SITHS login is not set up on this server (no trust anchors).
        SithsUnavailable = "siths_unavailable",
        /// A certificate in the card's chain is revoked (on its CA's revocation list).
        SithsCertificateRevoked = "siths_certificate_revoked",
        /// No fresh revocation answer for a certificate in the chain (the CA's revocation list
        /// could not be fetched, is out of date, or the certificate names none).
        SithsRevocationUnavailable = "siths_revocation_unavailable",
    }
    App {
        /// No answer from the backend: network down, server stopped, DNS, timeout.
        BackendUnreachable = "backend_unreachable",
        /// The backend answered, but not as a working Legitimera backend does.
        BackendUnavailable = "backend_unavailable",
        /// The configured backend address is not one the app may use.
        InvalidBackendUrl = "invalid_backend_url",
        /// A release build has no backend address: none in machine policy and none built in.
        BackendNotConfigured = "backend_not_configured",
        /// The backend sent a SITHS challenge that is not exactly 32 bytes: nothing was signed.
        SithsBadChallenge = "siths_bad_challenge",
        /// The setting is locked by machine policy ("Hanteras av din organisation").
        SettingLocked = "setting_locked",
        /// The settings file could not be written.
        SettingsNotSaved = "settings_not_saved",
        /// The OS keyring is missing or locked.
        KeyringUnavailable = "keyring_unavailable",
        /// The session ended after the idle limit without activity (the app's timer).
        IdleTimeout = "idle_timeout",
        /// The session ended at its absolute limit (the app's timer).
        AbsoluteTimeout = "absolute_timeout",
        /// Asked to install an update when none is on offer.
        NoUpdate = "no_update",
        /// An update waits for the session to end (log out first).
        UpdateSessionOpen = "update_session_open",
        /// The downloaded update's signature did not verify against the app's key: nothing
        /// was installed.
        UpdateNotTrusted = "update_not_trusted",
        /// The update could not be downloaded or installed (network, no permission).
        UpdateFailed = "update_failed",
    }
    Card {
        /// The PC/SC service (pcscd, the Windows Smart Card service) is not running.
        NoPcscService = "no_pcsc_service",
        /// No card reader is connected.
        NoReader = "no_reader",
        /// The reader is empty.
        NoCard = "no_card",
        /// The card was taken out while it was being used.
        CardRemoved = "card_removed",
        /// Another program reset the card between our commands.
        CardReset = "card_reset",
        /// Another program holds the card exclusively.
        CardBusy = "card_busy",
        /// The PIN was wrong; `tries_left` more wrong PINs block it.
        WrongPin = "wrong_pin",
        /// The PIN was wrong and one try is left: the next wrong one blocks the card.
        WrongPinLast = "wrong_pin_last",
        /// The PIN is blocked; it must be unblocked with the PUK.
        PinBlocked = "pin_blocked",
        /// Not a PIN this kind of card accepts (6–8 digits).
        InvalidPin = "invalid_pin",
        /// Neither a PIV nor a PKCS#15 application, or the key is missing.
        UnsupportedCard = "unsupported_card",
        /// The card answered something malformed or refused a command it should accept.
        CardError = "card_error",
        /// A PC/SC failure that fits no other kind.
        PcscError = "pcsc_error",
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and JSON checks compare with the wire text directly.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_in_snake_case_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} listed twice");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{text}"
            );
            assert_eq!(ErrorCode::parse(text), *code);
        }
        assert_eq!(ErrorCode::ALL.last(), Some(&ErrorCode::Unknown));
    }

    #[test]
    fn codes_travel_as_their_text_and_unknown_ones_do_not_fail() {
        let json = serde_json::to_string(&ErrorCode::WrongCode).unwrap_or_default();
        assert_eq!(json, "\"wrong_code\"");
        let newer: ErrorCode = serde_json::from_str("\"quantum_flux\"")
            .unwrap_or_else(|e| panic!("an unknown code must parse: {e}"));
        assert_eq!(newer, ErrorCode::Unknown);
        let known: ErrorCode =
            serde_json::from_str("\"siths_bad_signature\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(known, ErrorCode::SithsBadSignature);
    }

    #[test]
    fn each_code_says_who_sends_it() {
        assert_eq!(ErrorCode::RateLimited.origin(), Origin::Server);
        assert_eq!(ErrorCode::IdleTimeout.origin(), Origin::App);
        assert_eq!(ErrorCode::WrongPinLast.origin(), Origin::Card);
    }
}
