//! The whole card conversation against a card that answers anything (the fuzz input is the
//! script of its answers): detecting PIV or PKCS#15 (EF.DIR, ODF), 61xx/6Cxx handling, READ
//! BINARY loops, certificates with CertificateInfo, PIN status, and signing. Must end with
//! a result or an error, never a panic or a hang.
#![no_main]

use legitimera_card::{CardSession, CertificateInfo, KeyRole, Pin};
use legitimera_fuzz::Scripted;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut session) = CardSession::open(Scripted::new(data)) else {
        return;
    };
    if let Ok(der) = session.certificate(KeyRole::Authentication) {
        let _ = CertificateInfo::from_der(&der);
    }
    let _ = session.certificates();
    let _ = session.pin_status(KeyRole::Authentication);
    if let Ok(pin) = Pin::parse("123456") {
        let _ = session.sign(KeyRole::Authentication, &pin, b"challenge");
    }
});
