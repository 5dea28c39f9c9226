//! Launch URLs that start the BankID app on the user's own device. Pure string building.

use url::Url;

use crate::fields::AutoStartToken;

/// `bankid:///?autostarttoken=<token>&redirect=null`: starts the BankID app on this computer.
/// `redirect=null` makes the app return nowhere; the desktop app stays in front by itself.
pub fn desktop_launch_url(token: &AutoStartToken) -> String {
    format!(
        "bankid:///?autostarttoken={}&redirect=null",
        encode(&token.to_string())
    )
}

/// `https://app.bankid.com/?autostarttoken=<token>&redirect=<url-encoded>`: the universal link
/// for phones and tablets; `redirect` is where the app sends the user back to.
pub fn mobile_launch_url(token: &AutoStartToken, redirect: &Url) -> String {
    format!(
        "https://app.bankid.com/?autostarttoken={}&redirect={}",
        encode(&token.to_string()),
        encode(redirect.as_str())
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so `&`, `=`, `?`, `#` and
/// `/` in a value cannot end or change the query.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        // form encoding writes a space as '+', which a query parser may keep literally.
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AutoStartToken {
        "7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6"
            .parse()
            .expect("uuid")
    }

    #[test]
    fn desktop_url_is_exactly_as_bankid_documents() {
        assert_eq!(
            desktop_launch_url(&token()),
            "bankid:///?autostarttoken=7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6&redirect=null"
        );
    }

    #[test]
    fn desktop_url_parses_back_to_the_token() {
        let url = Url::parse(&desktop_launch_url(&token())).expect("valid URL");
        assert_eq!(url.scheme(), "bankid");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("autostarttoken".into(), token().to_string()),
                ("redirect".into(), "null".into())
            ]
        );
    }

    #[test]
    fn mobile_redirect_is_encoded_and_round_trips() {
        let redirect =
            Url::parse("https://e-tjanst.example.se/bankid?state=a b&x=1#done").expect("valid URL");
        let launch = mobile_launch_url(&token(), &redirect);
        let query = launch.split_once('?').expect("query").1;
        assert_eq!(
            query.matches('&').count(),
            1,
            "only the separator: {launch}"
        );
        assert!(!query.contains('#') && !query.contains(' ') && !query.contains('+'));
        let parsed = Url::parse(&launch).expect("valid URL");
        let redirect_back = parsed
            .query_pairs()
            .find(|(key, _)| key == "redirect")
            .map(|(_, value)| value.into_owned());
        assert_eq!(redirect_back.as_deref(), Some(redirect.as_str()));
    }
}
