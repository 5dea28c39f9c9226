//! The catalogs now live in `legitimera_testkit::catalog`; this re-export stays only for the
//! `#[path]` include in tests/i18n.rs, until it uses the testkit directly.

pub use legitimera_testkit::catalog::{catalog, ui_dir, LANGUAGES};
