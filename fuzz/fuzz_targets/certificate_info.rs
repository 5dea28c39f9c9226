//! Certificate extraction: what the UI shows about a DER certificate read from a card.
#![no_main]

use legitimera_card::cert::{self, CertificateInfo};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = CertificateInfo::from_der(data) {
        let _ = info.validity_at(OffsetDateTime::UNIX_EPOCH);
        let _ = info.validity_at(info.not_after);
        let _ = info.key_usage.role();
        let _ = format!("{info:?}");
    }
    let _ = cert::key_kind_of(data);
});
