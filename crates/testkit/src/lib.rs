//! Test machinery shared by the workspace's tests, benches and xtask: pcscd with vpcd's
//! virtual readers (start it, or require it), the demo server as a process, the QR reader, log
//! capture, the UI's translation catalogs, and (feature `e2e`) the WebDriver harness over the
//! real app. A dev-dependency only: nothing here may reach what users install, and nothing
//! here decides whether a test runs — tests that need pcscd, a display or D-Bus are
//! `#[ignore = "needs …"]`, and `cargo xtask test` runs them with `--include-ignored`.

#[cfg(feature = "e2e")]
pub mod axe;
pub mod catalog;
#[cfg(feature = "e2e")]
pub mod e2e;
#[cfg(feature = "logs")]
pub mod logs;
pub mod pcscd;
#[cfg(feature = "qr")]
pub mod qr;
pub mod server;

use std::path::{Path, PathBuf};

/// Set by `cargo xtask e2e` and `cargo xtask test` once the display, the D-Bus session and
/// tauri-driver the end-to-end tests need are there.
pub const E2E_ENV: &str = "LEGITIMERA_E2E";
/// Set by `cargo xtask test` for its unit-test step, whose `--include-ignored` is not for the
/// end-to-end tests: they run in the next step, with the display they need.
pub const E2E_LATER_ENV: &str = "LEGITIMERA_E2E_LATER";
/// The path of axe-core's `axe.min.js` for the end-to-end tests' accessibility audit, set by
/// `cargo xtask e2e` and `cargo xtask test` (which fetch it).
pub const AXE_ENV: &str = "LEGITIMERA_AXE_JS";

/// The workspace's root directory (this crate lives in `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// `line` without its ANSI colour sequences.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
