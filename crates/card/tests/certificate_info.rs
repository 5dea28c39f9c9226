//! `CertificateInfo` of SITHS-like certificates as the virtual card's test CA issues them:
//! holder, HSA-id, organisation, issuer, key usage, and validity against a given `now`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use legitimera_card::{CertificateInfo, HsaId, KeyKind, KeyUsage, Validity};
use legitimera_vcard::{CardKeys, CertificateTimes, Holder, TestCa};
use time::{Duration, OffsetDateTime};

fn certificates(times: CertificateTimes) -> (CertificateInfo, CertificateInfo) {
    let ca = TestCa::generate().unwrap();
    let keys = CardKeys::generate_p256();
    let issued = ca.issue(&keys, &Holder::default(), times).unwrap();
    (
        CertificateInfo::from_der(&issued.authentication).unwrap(),
        CertificateInfo::from_der(&issued.signing).unwrap(),
    )
}

#[test]
fn siths_like_certificate_fields() {
    let (auth, sign) = certificates(CertificateTimes::Valid);
    assert_eq!(auth.holder, "Anna Testsson");
    assert_eq!(
        auth.hsa_id.as_ref().map(HsaId::as_str),
        Some("SE2321000016-1234")
    );
    assert_eq!(auth.organisation.as_deref(), Some("Region Testland"));
    assert_eq!(auth.issuer, "SITHS e-id Person HSA-id 3 CA v1 TEST");
    assert_eq!(auth.key_usage, KeyUsage::Authentication);
    assert_eq!(sign.key_usage, KeyUsage::Signing);
    assert_eq!(auth.key, KeyKind::EcP256);
    let shown = format!("{auth:?}");
    assert!(
        !shown.contains("Anna") && !shown.contains("SE2321000016"),
        "{shown}"
    );
}

#[test]
fn validity_against_a_given_now() {
    let (auth, _) = certificates(CertificateTimes::Valid);
    let now = auth.not_before + Duration::days(1);
    assert_eq!(auth.validity_at(now), Validity::Valid);
    assert_eq!(
        auth.validity_at(auth.not_before - Duration::seconds(1)),
        Validity::NotYetValid
    );
    assert_eq!(
        auth.validity_at(auth.not_after + Duration::seconds(1)),
        Validity::Expired
    );
    assert_eq!(
        auth.validity_at(auth.not_after - Duration::days(10) - Duration::hours(1)),
        Validity::ExpiresSoon { days: 10 }
    );
    assert_eq!(
        auth.validity_at(auth.not_after - Duration::days(31)),
        Validity::Valid
    );
}

#[test]
fn expired_and_not_yet_valid_knobs() {
    let now = OffsetDateTime::now_utc();
    let (expired, _) = certificates(CertificateTimes::Expired);
    assert_eq!(expired.validity_at(now), Validity::Expired);
    let (future, _) = certificates(CertificateTimes::NotYetValid);
    assert_eq!(future.validity_at(now), Validity::NotYetValid);
}
