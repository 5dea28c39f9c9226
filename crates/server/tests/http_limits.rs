//! What a connection and a request may hold, over real TCP against the real server: a
//! half-sent header is closed at the header-read timeout, idle connections do not starve the
//! rest, requests over the concurrency limit are shed with `503 overloaded`, a body that stops
//! arriving ends at the request timeout (the BankID long poll keeps its own bound), oversized
//! bodies are `413`, every error is JSON, and a stopping server keeps its shutdown deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use legitimera_protocol::ErrorCode;
use legitimera_server::config::Overrides;
use serde_json::json;
use support::{demo_overrides, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn with(over: Overrides) -> TestServer {
    TestServer::with(over).await
}

/// Reads until the server closes the connection (or `limit` passes); the bytes read.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut bytes))
        .await
        .ok()
        .map(|_| bytes)
}

#[tokio::test]
async fn a_half_sent_header_is_closed_within_the_timeout() {
    let server = with(Overrides {
        header_read_timeout: Some(2),
        ..demo_overrides()
    })
    .await;
    let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert!(closed.is_some(), "still open after 10 s");
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(4),
        "closed after {elapsed:?}"
    );
}

/// Lets this process hold more connections than a default soft limit of 1024 allows (both
/// ends of each connection are in this process).
fn raise_open_file_limit(to: u64) {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={to}:")])
        .status();
}

#[tokio::test]
async fn two_thousand_idle_connections_do_not_stop_health_from_answering() {
    raise_open_file_limit(16384);
    let server = TestServer::demo().await;
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(server.running.addr).await.unwrap());
    }
    let started = Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(5), server.get("health"))
        .await
        .expect("health answered within 5 s");
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(idle.len(), 2000);
}

#[tokio::test]
async fn an_oversized_body_is_413_json() {
    let server = TestServer::demo().await;
    let answer = server
        .post(
            "login/password",
            json!({"email": "erik@example.se", "password": "x".repeat(70 * 1024)}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), ErrorCode::PayloadTooLarge.as_str());
    assert!(answer.body["message"].is_string());
}

/// A body declared larger than the limit is refused at once, not waited for until the
/// request timeout (a client that announced 1 GB got `408` after 30 s, not `413`).
#[tokio::test]
async fn a_body_declared_over_the_limit_is_413_at_once() {
    let server = TestServer::demo().await;
    let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/login/password HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"payload_too_large\""),
        "{answer}"
    );
}

#[tokio::test]
async fn every_error_is_json_405_415_404_and_a_bad_query() {
    let server = TestServer::demo().await;
    let url = |path: &str| format!("{}/api/v1/{path}", server.running.url());
    let put = server.send(server.client.put(url("health"))).await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(put.code(), ErrorCode::MethodNotAllowed.as_str());
    assert!(put.headers.contains_key("allow"), "{:?}", put.headers);
    let text = server
        .send(
            server
                .client
                .post(url("login/password"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text.code(), ErrorCode::UnsupportedMediaType.as_str());
    let missing = server.send(server.client.get(url("no/such/thing"))).await;
    assert_eq!(missing.code(), ErrorCode::NotFound.as_str());
    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await;
    let id = order.body["id"].as_str().unwrap();
    let bad_query = server
        .send(
            server
                .client
                .get(url(&format!("bankid/orders/{id}?wait=soon&since=x"))),
        )
        .await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_query.code(), ErrorCode::BadRequest.as_str());
    assert!(!bad_query.body["message"].as_str().unwrap().contains("soon"));
}

#[tokio::test]
async fn requests_over_the_concurrency_limit_are_shed_with_503_overloaded() {
    let server = with(Overrides {
        max_concurrent_requests: Some(2),
        ..demo_overrides()
    })
    .await;
    let mut polls = Vec::new();
    for _ in 0..2 {
        let order = server
            .post("bankid/orders", json!({"mode": "this_device"}))
            .await;
        assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
        let url = format!(
            "{}/api/v1/bankid/orders/{}?wait=3&since={}",
            server.running.url(),
            order.body["id"].as_str().unwrap(),
            order.body["version"]
        );
        let client = server.client.clone();
        polls.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shed = server.get("health").await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.code(), ErrorCode::Overloaded.as_str());
    assert_eq!(shed.headers["retry-after"], "1");
    for poll in polls {
        assert_eq!(poll.await.unwrap(), 200);
    }
    assert_eq!(server.get("health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_stops_arriving_ends_at_the_request_timeout_but_a_long_poll_does_not() {
    let server = with(Overrides {
        request_timeout: Some(1),
        ..demo_overrides()
    })
    .await;
    let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/login/password HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");

    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await;
    let started = Instant::now();
    let poll = server
        .get(&format!(
            "bankid/orders/{}?wait=3&since={}",
            order.body["id"].as_str().unwrap(),
            order.body["version"]
        ))
        .await;
    assert_eq!(poll.status, StatusCode::OK, "{:?}", poll.body);
    assert!(started.elapsed() >= Duration::from_millis(2900));
}

#[tokio::test]
async fn a_stopping_plain_http_server_keeps_its_shutdown_deadline() {
    let server = TestServer::demo().await;
    let order = server
        .post("bankid/orders", json!({"mode": "this_device"}))
        .await;
    let url = format!(
        "{}/api/v1/bankid/orders/{}?wait=25&since={}",
        server.running.url(),
        order.body["id"].as_str().unwrap(),
        order.body["version"]
    );
    let client = server.client.clone();
    let poll = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    server.running.stop().await.unwrap();
    let stopped_after = started.elapsed();
    assert!(
        stopped_after < Duration::from_secs(14),
        "stop took {stopped_after:?}"
    );
    let _ = poll.await;
}

/// Sends `request` on a fresh connection and reads the whole answer (the server closes after
/// these); its status line and JSON body.
async fn raw_answer(server: &TestServer, request: &[u8]) -> (String, serde_json::Value) {
    let mut stream = TcpStream::connect(server.running.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let bytes = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server did not close the connection");
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("no head");
    let status_line = head.lines().next().unwrap().to_owned();
    assert!(
        head.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status_line, body)
}

/// hyper answers a head it cannot read by itself, before the router: those answers are the
/// API's JSON too, and the server goes on answering.
#[tokio::test]
async fn requests_hyper_refuses_unread_are_json_400_414_431() {
    let server = TestServer::demo().await;
    let long_uri = format!(
        "GET /api/v1/health?{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_headers = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..120)
            .map(|i| format!("x-{i}: {i}\r\n"))
            .collect::<String>()
    );
    for (request, status_line, code) in [
        (
            b"GARBAGE\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            ErrorCode::BadRequest,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            ErrorCode::BadRequest,
        ),
        (
            long_uri.into_bytes(),
            "HTTP/1.1 414 URI Too Long",
            ErrorCode::UriTooLong,
        ),
        (
            many_headers.into_bytes(),
            "HTTP/1.1 431 Request Header Fields Too Large",
            ErrorCode::HeadersTooLarge,
        ),
    ] {
        let (line, body) = raw_answer(&server, &request).await;
        assert_eq!(line, status_line);
        assert_eq!(body["code"], code.as_str(), "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let health = server
        .send(
            server
                .client
                .get(format!("{}/api/v1/health", server.running.url())),
        )
        .await;
    assert_eq!(health.status, StatusCode::OK);
}

/// The same over HTTPS, where the answer is written under TLS: the real binary with a
/// certificate, through reqwest trusting it.
#[tokio::test]
async fn over_https_the_server_answers_and_its_431_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    let cert = params.self_signed(&key).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let database = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let server = support::ServerProcess::start(
        &database,
        &[
            "--tls-cert".to_owned(),
            cert_file.display().to_string(),
            "--tls-key".to_owned(),
            key_file.display().to_string(),
        ],
    )
    .await;
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let health = client.get(server.api("health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // reqwest will not send a URI over 64 KiB itself; 120 headers are over hyper's 100.
    let mut many = client.get(server.api("health"));
    for i in 0..120 {
        many = many.header(format!("x-{i}"), i.to_string());
    }
    let refused = many.send().await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], ErrorCode::HeadersTooLarge.as_str(), "{body}");
}
