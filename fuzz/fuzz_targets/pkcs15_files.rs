//! PKCS#15 directory files as a card could hold them: EF.DIR, ODF, CDF, PrKDF, AODF.
#![no_main]

use legitimera_card::pkcs15;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pkcs15::parse_ef_dir(data);
    let _ = pkcs15::parse_odf(data);
    let _ = pkcs15::parse_cdf(data);
    let _ = pkcs15::parse_prkdf(data);
    let _ = pkcs15::parse_aodf(data);
});
