//! The UI's translation catalogs (ui/i18n/*.json), flattened to `dotted.key → text`, for the
//! i18n tests and the end-to-end tests. Reads only; what a complete catalog is, those tests say.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

pub const LANGUAGES: [&str; 2] = ["sv", "en"];

/// The web UI's directory.
pub fn ui_dir() -> PathBuf {
    crate::workspace_root().join("ui")
}

/// The catalog of `lang`, flattened.
pub fn catalog(lang: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let path = ui_dir().join(format!("i18n/{lang}.json"));
    let text = std::fs::read_to_string(&path)?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not valid JSON: {e}", path.display()))?;
    let mut flat = BTreeMap::new();
    flatten("", &value, &mut flat)?;
    Ok(flat)
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, out)?;
            }
            Ok(())
        }
        Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
            Ok(())
        }
        other => anyhow::bail!("{prefix}: expected text, found {other}"),
    }
}
