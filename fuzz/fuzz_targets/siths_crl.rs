//! The server's CRL handling, with the CRLs mutated at the DER level: a fetched body as
//! `siths::revocation::parse` takes it (x509-parser for the issuer and the times, webpki's own
//! parse, staleness at `now`), for a chain `verify::check_chain` accepted, then the revocation
//! verdict (`revocation::verdict`: webpki checks each list's signature against the issuer on the
//! verified path, then looks the certificates up). The input is records (big-endian u16 length,
//! bytes): a head (the chain's length, then the time as big-endian u64 seconds), the trust
//! anchor, the chain (leaf first), then the CRL bodies the distribution points answer with.
//!
//! Checked where a one-certificate chain makes it simple (the anchor issued the leaf): "not
//! revoked" needs a list from the leaf's issuer whose signature verifies with the anchor's key
//! (ring, P-256: the test CA's), fresh at `now`, that does not list the leaf's serial; "revoked"
//! needs such a list that does list it. A list `parse` accepts is fresh and from the issuer.
#![no_main]

use std::time::Duration;

use legitimera_fuzz::records;
use legitimera_server::internal::{check_chain, crl_verdict, parse_crl};
use legitimera_server::siths::{CertificatePolicy, Rejection, TrustAnchors};
use libfuzzer_sys::fuzz_target;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

/// What the fuzz target's own reading of a CRL says about one certificate.
struct Reading {
    /// The signature verifies with the issuer's key.
    signed: bool,
    fresh: bool,
    lists_serial: bool,
}

/// The CRL `der` read independently of the server: is it from `issuer` (DER name), signed by
/// `issuer_key` (an uncompressed P-256 point), fresh at `now`, and does it list `serial`?
fn read(der: &[u8], issuer: &[u8], issuer_key: &[u8], serial: &[u8], now: i64) -> Option<Reading> {
    let (_, crl) = CertificateRevocationList::from_der(der).ok()?;
    if crl.issuer().as_raw() != issuer {
        return None;
    }
    let signed = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, issuer_key)
        .verify(crl.tbs_cert_list.as_ref(), &crl.signature_value.data)
        .is_ok();
    let fresh = crl.next_update().is_some_and(|next| now < next.timestamp());
    let lists_serial = crl
        .iter_revoked_certificates()
        .any(|revoked| revoked.raw_serial() == serial);
    Some(Reading {
        signed,
        fresh,
        lists_serial,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut records = records(data);
    let (Some(head), Some(anchor)) = (records.next(), records.next()) else {
        return;
    };
    let Some((&length, seconds)) = head.split_first() else {
        return;
    };
    let Ok(seconds) = <[u8; 8]>::try_from(seconds) else {
        return;
    };
    let Ok(now) = i64::try_from(u64::from_be_bytes(seconds)) else {
        return;
    };
    let unix_now = UnixTime::since_unix_epoch(Duration::from_secs(now.unsigned_abs()));
    let length = usize::from(length % 4) + 1;
    let chain: Vec<Vec<u8>> = records.by_ref().take(length).map(<[u8]>::to_vec).collect();
    let bodies: Vec<&[u8]> = records.collect();
    let Ok(anchors) = TrustAnchors::from_der([CertificateDer::from(anchor.to_vec())]) else {
        return;
    };
    let Ok(checked) = check_chain(&anchors, &CertificatePolicy::default(), &chain, unix_now) else {
        return;
    };
    // As the server asks the distribution points: the first list that parses, per certificate.
    let url = "http://127.0.0.1:8787/demo/siths/crl/fuzz.crl";
    let mut lists = Vec::new();
    for certificate in &checked.revocable {
        let Some(list) = bodies
            .iter()
            .find_map(|body| parse_crl(url, body, &certificate.issuer, now).ok())
        else {
            return;
        };
        assert!(list.fresh_at(now), "parse accepted a stale CRL");
        lists.push(list);
    }
    let verdict = crl_verdict(&anchors, &chain, &lists, now);
    if let Ok(oldest) = verdict {
        assert!(lists.iter().all(|list| list.this_update >= oldest));
    }
    let [leaf] = chain.as_slice() else {
        return;
    };
    let (Ok((_, leaf)), Ok((_, anchor))) = (
        X509Certificate::from_der(leaf),
        X509Certificate::from_der(anchor),
    ) else {
        return;
    };
    let key = &anchor.public_key().subject_public_key.data;
    let readings: Vec<Reading> = bodies
        .iter()
        .filter_map(|body| read(body, leaf.issuer().as_raw(), key, leaf.raw_serial(), now))
        .collect();
    match verdict {
        Ok(_) => assert!(
            readings
                .iter()
                .any(|r| r.signed && r.fresh && !r.lists_serial),
            "a certificate was found good without a fresh, well signed CRL that leaves it out"
        ),
        Err(Rejection::Revoked) => assert!(
            readings.iter().any(|r| r.signed && r.lists_serial),
            "a certificate was found revoked without a well signed CRL that lists it"
        ),
        Err(_) => {}
    }
});
