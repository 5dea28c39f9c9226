//! The UI language: Swedish or English, defaulting from the OS locale (Swedish unless the
//! system clearly asks for something else, since the agency's default language is Swedish).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Sv,
    En,
}

impl Language {
    /// Maps a BCP 47 / POSIX locale such as `sv-SE`, `sv_FI.UTF-8`, `en-GB` or `C`.
    pub fn from_locale(locale: Option<&str>) -> Language {
        let Some(locale) = locale else {
            return Language::Sv;
        };
        let primary = locale
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "sv" | "" | "c" | "posix" => Language::Sv,
            _ => Language::En,
        }
    }

    pub fn from_os() -> Language {
        Language::from_locale(sys_locale::get_locale().as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_locales_and_unset_give_swedish_others_english() {
        assert_eq!(Language::from_locale(Some("sv-SE")), Language::Sv);
        assert_eq!(Language::from_locale(Some("sv_FI.UTF-8")), Language::Sv);
        assert_eq!(Language::from_locale(Some("C")), Language::Sv);
        assert_eq!(Language::from_locale(None), Language::Sv);
        assert_eq!(Language::from_locale(Some("en-GB")), Language::En);
        assert_eq!(Language::from_locale(Some("ar_SY.UTF-8")), Language::En);
    }
}
