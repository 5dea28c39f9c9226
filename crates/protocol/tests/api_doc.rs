//! docs/api.md's table of error codes is the server's contract for other clients: it must list
//! exactly the codes the server can answer with, no more and no fewer.

use std::collections::BTreeSet;

use legitimera_protocol::{ErrorCode, Origin};

/// The codes in the first column of the "Error codes" section's table rows.
fn documented_codes() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with("Error codes"))
        .unwrap_or_else(|| panic!("docs/api.md has no \"## Error codes\" section"));
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code.to_owned()))
        .collect()
}

#[test]
fn the_documented_error_codes_are_exactly_the_servers() {
    let documented = documented_codes();
    let servers: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .filter(|code| code.origin() == Origin::Server && **code != ErrorCode::Unknown)
        .map(|code| code.as_str().to_owned())
        .collect();
    let undocumented: Vec<_> = servers.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&servers).collect();
    assert!(
        undocumented.is_empty(),
        "docs/api.md lacks: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/api.md lists codes the server never sends: {unknown:?}"
    );
}
