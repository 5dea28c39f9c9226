//! The diagnostics' `certificate` check on the authentication certificate's DER as the card
//! gives it (`diagnostics::certificate_check`: holder, issuer, validity, key usage, then the
//! verdict and its sv/en texts), mutated at the DER level. The input: a head byte (bit 0: the
//! language; bits 1–2: when "now" is — the time that follows, or just before notBefore, inside
//! the 30-day warning, just after notAfter), the time as big-endian i64 seconds, then the DER.
//!
//! Checked: a readable certificate's holder and HSA-id go to the report's identity and never
//! into the texts (the verdict is the same with them blanked out); the verdict agrees with the
//! validity and key usage read from the certificate; the outcome serializes.
#![no_main]

use legitimera_card::{CertificateInfo, KeyUsage, Validity};
use legitimera_client::diagnostics::{CheckId, Status};
use legitimera_client::internal::{certificate_check, certificate_verdict};
use legitimera_client::locale::Language;
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};

fuzz_target!(|data: &[u8]| {
    let [head, s0, s1, s2, s3, s4, s5, s6, s7, der @ ..] = data else {
        return;
    };
    let lang = if head & 1 == 0 {
        Language::Sv
    } else {
        Language::En
    };
    let seconds = i64::from_be_bytes([*s0, *s1, *s2, *s3, *s4, *s5, *s6, *s7]);
    let given = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let info = CertificateInfo::from_der(der).ok();
    let now = match ((head >> 1) & 3, &info) {
        (1, Some(info)) => info.not_before.checked_sub(Duration::SECOND),
        (2, Some(info)) => info.not_after.checked_sub(Duration::days(10)),
        (3, Some(info)) => info.not_after.checked_add(Duration::SECOND),
        _ => None,
    }
    .unwrap_or(given);

    let (identity, outcome) = certificate_check(lang, der, now);
    assert_eq!(outcome.id, CheckId::Certificate);
    assert!(!outcome.summary.is_empty());
    assert!(serde_json::to_string(&outcome).is_ok());
    let Some(info) = info else {
        assert!(identity.is_none());
        assert_eq!(
            outcome.status,
            Status::Failed,
            "an unreadable certificate passed"
        );
        return;
    };
    let identity = identity.expect("a readable certificate names its holder");
    assert_eq!(identity.name, info.holder);
    assert_eq!(
        identity.hsa_id.as_deref(),
        info.hsa_id.as_ref().map(|id| id.as_str())
    );
    assert_eq!(outcome, certificate_verdict(lang, &info, now));
    let mut anonymous = info.clone();
    anonymous.holder = String::new();
    anonymous.hsa_id = None;
    assert_eq!(
        outcome,
        certificate_verdict(lang, &anonymous, now),
        "the holder or the HSA-id changed the texts"
    );
    match info.validity_at(now) {
        Validity::Expired | Validity::NotYetValid => assert_eq!(outcome.status, Status::Failed),
        Validity::ExpiresSoon { .. } => assert_ne!(outcome.status, Status::Ok),
        Validity::Valid => {}
    }
    if info.key_usage != KeyUsage::Authentication {
        assert_eq!(
            outcome.status,
            Status::Failed,
            "a signing certificate passed"
        );
    }
});
