//! The QR reader now lives in `legitimera_testkit::qr`; this re-export stays only for the
//! `#[path]` include in src-tauri/src/bankid.rs's tests, until those use the testkit directly.

pub use legitimera_testkit::qr::read_svg_qr;
