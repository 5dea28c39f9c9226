//! Smart cards over PC/SC for SITHS login: reader and card watching, PIV and PKCS#15
//! certificate reading, PIN status and VERIFY, challenge signing, and certificate inspection.
//! No Tauri here, and no test machinery (the virtual card is `legitimera-vcard`); PINs never
//! leave memory that is zeroized, and nothing personal is logged.

pub mod apdu;
pub mod card;
pub mod cert;
pub mod error;
pub mod info;
pub mod pin;
pub mod piv;
pub mod pkcs15;
pub mod reader;
pub mod signature;
pub mod tlv;
pub mod watcher;

pub use card::{CardCertificate, CardKind, CardSession, PinStatus, SignedChallenge, Transport};
pub use cert::{CertificateInfo, HsaId, KeyKind, KeyUsage, Validity};
pub use error::{Error, ErrorBody, Result};
pub use pin::Pin;
pub use piv::KeyRole;
pub use reader::{CardContents, Pcsc, ReaderInfo};
pub use signature::SignatureAlgorithm;
pub use watcher::{CardEvent, Watcher};
