//! What a client puts in a request besides the body: the query strings the routes take
//! (`?wait=&since=` through the hand-written `WaitQuery::parse` the BankID status uses, which
//! must read exactly what axum's `Query` read; `?lang=` through `Query` as the routes use it), the
//! `Authorization: Bearer` header as the session extractors read it, and the trusted proxy's
//! forwarded-address header. The whole input is each of them in turn.
#![no_main]

use axum::extract::{Query, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Uri};
use legitimera_server::internal::{bearer, rightmost_address, CasesQuery, LandingQuery, WaitQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(path_and_query) = PathAndQuery::try_from([b"/api/v1/fuzz?", data].concat()) {
        let uri = Uri::from(path_and_query);
        let by_hand = WaitQuery::parse(uri.query());
        let by_axum = Query::<WaitQuery>::try_from_uri(&uri).ok().map(|query| query.0);
        assert_eq!(by_hand, by_axum, "WaitQuery::parse and axum's Query disagree");
        let _ = Query::<CasesQuery>::try_from_uri(&uri);
        let _ = Query::<LandingQuery>::try_from_uri(&uri);
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let (parts, ()) = Request::builder()
            .header(AUTHORIZATION, value)
            .body(())
            .expect("a valid header value makes a request")
            .into_parts();
        if let Some(token) = bearer(&parts) {
            let token = token.expose();
            assert_eq!(token, token.trim(), "a bearer token is trimmed");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rightmost_address(text);
    }
});
