//! `card-info`: the readers, the card and its certificates as JSON, for people and scripts.
//! Never asks for a PIN. Exit status 1 with `{ "error": { code, message } }` when there is no
//! PC/SC service or no reader.

use std::process::ExitCode;

fn main() -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let (value, code) = match legitimera_card::info::collect(now) {
        Ok(report) => (serde_json::to_value(report), ExitCode::SUCCESS),
        Err(error) => (
            serde_json::to_value(serde_json::json!({ "error": error.to_body() })),
            ExitCode::FAILURE,
        ),
    };
    match value.and_then(|value| serde_json::to_string_pretty(&value)) {
        Ok(text) => println!("{text}"),
        Err(error) => {
            eprintln!("card-info: {error}");
            return ExitCode::FAILURE;
        }
    }
    code
}
