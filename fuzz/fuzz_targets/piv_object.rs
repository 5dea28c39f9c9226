//! PIV card answers: certificate objects (plain and gzip-compressed), GENERAL AUTHENTICATE
//! templates, and ECDSA signatures in either form a card sends.
#![no_main]

use legitimera_card::{piv, signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = piv::parse_certificate_object(data) {
        assert!(!der.is_empty() && der.len() <= 16 * 1024);
    }
    if let Ok(raw) = piv::parse_signature_response(data) {
        let _ = signature::ecdsa_p256_to_der(&raw);
    }
    let _ = signature::ecdsa_p256_to_der(data);
});
