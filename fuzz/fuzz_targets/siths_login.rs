//! A SITHS login's signed challenge through chain building, certificate policy and signature
//! checking (`siths::verify`), with the certificates as raw DER so the fuzzer mutates them at
//! the DER level. The input is records (big-endian u16 length, bytes): a head (algorithm byte,
//! then the time as big-endian u64 seconds), the trust anchor, the challenge (32 bytes), the
//! signature, then the chain, leaf first.
#![no_main]

use std::time::Duration;

use legitimera_fuzz::records;
use legitimera_protocol::SithsAlgorithm;
use legitimera_server::internal::verify;
use legitimera_server::siths::{CertificatePolicy, TrustAnchors};
use libfuzzer_sys::fuzz_target;
use rustls_pki_types::{CertificateDer, UnixTime};

fuzz_target!(|data: &[u8]| {
    let mut records = records(data);
    let (Some(head), Some(anchor), Some(challenge), Some(signature)) = (
        records.next(),
        records.next(),
        records.next(),
        records.next(),
    ) else {
        return;
    };
    let Some((&algorithm, seconds)) = head.split_first() else {
        return;
    };
    let Ok(seconds) = <[u8; 8]>::try_from(seconds) else {
        return;
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(u64::from_be_bytes(seconds)));
    let algorithm = if algorithm & 1 == 0 {
        SithsAlgorithm::RsaPkcs1Sha256
    } else {
        SithsAlgorithm::EcdsaP256Sha256
    };
    let chain: Vec<Vec<u8>> = records.map(<[u8]>::to_vec).collect();
    let Ok(anchors) = TrustAnchors::from_der([CertificateDer::from(anchor.to_vec())]) else {
        return;
    };
    let Ok(challenge) = <&[u8; 32]>::try_from(challenge) else {
        return;
    };
    let policy = CertificatePolicy::default();
    let origin = "http://127.0.0.1:8787";
    if let Ok(staff) = verify(
        &anchors, &policy, &chain, algorithm, origin, challenge, signature, now,
    ) {
        assert!(!staff.hsa_id.is_empty() && !staff.name.is_empty());
    }
});
