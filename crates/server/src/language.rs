//! Language negotiation for answers that carry text (cases, the staff landing page): `?lang=`
//! first, then `Accept-Language`, then Swedish. Pure: no state, no I/O.

use axum::http::{header, HeaderMap};

/// The language to answer in: the query's if supported, else the header's best, else `sv`.
pub(crate) fn negotiate(query: Option<&str>, headers: &HeaderMap) -> &'static str {
    query
        .and_then(supported)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(preferred_language)
        })
        .unwrap_or("sv")
}

pub(crate) fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "sv" => Some("sv"),
        "en" => Some("en"),
        _ => None,
    }
}

/// The supported language the `Accept-Language` header likes best, by its q-values.
pub(crate) fn preferred_language(header: &str) -> Option<&'static str> {
    header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang = supported(parts.next()?)?;
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            Some((lang, quality))
        })
        .filter(|(_, quality)| *quality > 0.0)
        // The first of equally liked languages wins.
        .fold(
            None,
            |best: Option<(&'static str, f32)>, candidate| match best {
                Some(best) if best.1 >= candidate.1 => Some(best),
                _ => Some(candidate),
            },
        )
        .map(|(lang, _)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(preferred_language("en-GB,en;q=0.9,sv;q=0.8"), Some("en"));
        assert_eq!(
            preferred_language("de-DE, sv-SE;q=0.5, en;q=0.4"),
            Some("sv")
        );
        assert_eq!(preferred_language("fr, de"), None);
        assert_eq!(preferred_language("sv, en"), Some("sv"));
        assert_eq!(preferred_language("sv;q=0, en;q=0.1"), Some("en"));
    }

    #[test]
    fn query_wins_over_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "en".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(negotiate(Some("sv-SE"), &headers), "sv");
        assert_eq!(negotiate(None, &headers), "en");
        assert_eq!(negotiate(Some("fi"), &HeaderMap::new()), "sv");
    }
}
