//! The API's `{code, message}` for requests hyper refuses before the router sees them.
//!
//! hyper answers a request head it cannot parse by itself and closes the connection:
//! - a request line or header that is not HTTP is `400`;
//! - a path and query over 64 KiB is `414`;
//! - a head over its buffer (about 400 KiB) or with more than 100 headers is `431`.
//!
//! It has no hook for these answers, and their body is empty. [`JsonParseErrors`] wraps each
//! connection's stream (under TLS, the decrypted one). When hyper writes one of these heads,
//! the stream writes the JSON answer in its place.
//!
//! Such a head is `HTTP/1.1 4xx` with `connection: close` and `content-length: 0`, written
//! alone. No route answers like that: every error the router gives carries JSON
//! (`http_limits::json_error`). hyper writes it only when no answer is under way
//! (`Writing::Init`), so it always starts a write. HTTP/2 frames never start with `HTTP/`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum_server::accept::Accept;
use legitimera_protocol::ErrorBody;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;

/// An acceptor that gives hyper's own error answers JSON bodies; wraps the acceptor `A`
/// (plain TCP or TLS).
#[derive(Debug, Clone)]
pub struct JsonParseErrors<A>(pub A);

impl<I, S, A> Accept<I, S> for JsonParseErrors<A>
where
    A: Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: Unpin,
{
    type Stream = JsonParseErrorStream<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let accepted = self.0.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = accepted.await?;
            Ok((
                JsonParseErrorStream {
                    inner: stream,
                    replacing: None,
                },
                service,
            ))
        })
    }
}

/// A connection's stream; see the module.
#[derive(Debug)]
pub struct JsonParseErrorStream<S> {
    inner: S,
    /// The answer being written in place of hyper's head, and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrorStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrorStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            this.replacing = json_answer(buf).map(|answer| (answer, 0));
        }
        let Some((answer, sent)) = &mut this.replacing else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *sent < answer.len() {
            let written = ready!(Pin::new(&mut this.inner).poll_write(cx, &answer[*sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += written;
        }
        this.replacing = None;
        // hyper's head counts as written: it was, in its JSON form.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if self.replacing.is_some() || json_answer(only).is_some() {
                return self.poll_write(cx, only);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// If `written` is hyper's own empty error answer: the same answer with the API's JSON body
/// (its other headers, such as `date`, kept).
fn json_answer(written: &[u8]) -> Option<Vec<u8>> {
    const START: &[u8] = b"HTTP/1.1 4";
    const CLOSE: &[u8] = b"\r\nconnection: close\r\n";
    const EMPTY: &[u8] = b"\r\ncontent-length: 0\r\n";
    if !written.starts_with(START) || !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    let contains = |needle: &[u8]| written.windows(needle.len()).any(|w| w == needle);
    if !contains(CLOSE) || !contains(EMPTY) {
        return None;
    }
    let error = match written.get(START.len() - 1..START.len() + 2)? {
        b"400" => ApiError::BadRequest("the request could not be read as HTTP".to_owned()),
        b"414" => ApiError::UriTooLong,
        b"431" => ApiError::HeadersTooLarge,
        _ => return None,
    };
    tracing::debug!(
        status = error.status().as_u16(),
        "unreadable request refused"
    );
    let body = serde_json::to_vec(&ErrorBody::new(error.code(), error.to_string())).ok()?;
    let head = std::str::from_utf8(&written[..written.len() - 2]).ok()?;
    let mut answer = Vec::with_capacity(written.len() + body.len() + 64);
    for line in head.split_terminator("\r\n") {
        if line != "content-length: 0" {
            answer.extend_from_slice(line.as_bytes());
            answer.extend_from_slice(b"\r\n");
        }
    }
    answer.extend_from_slice(b"content-type: application/json\r\n");
    answer.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DATE: &str = "date: Tue, 01 Dec 2026 04:20:42 GMT";

    /// hyper 1's automatic answer, byte for byte as it writes it.
    fn hypers(status_line: &str) -> Vec<u8> {
        format!("{status_line}\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n")
            .into_bytes()
    }

    fn split(answer: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(answer.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len(), "{text}");
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn hypers_three_empty_answers_get_their_code_and_keep_status_and_headers() {
        for (line, code) in [
            ("HTTP/1.1 400 Bad Request", "bad_request"),
            ("HTTP/1.1 414 URI Too Long", "uri_too_long"),
            (
                "HTTP/1.1 431 Request Header Fields Too Large",
                "headers_too_large",
            ),
        ] {
            let (head, body) = split(&json_answer(&hypers(line)).unwrap());
            assert!(head.starts_with(&format!("{line}\r\n")), "{head}");
            assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
            assert!(head.contains(DATE), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            assert!(!head.contains("content-length: 0"), "{head}");
            assert_eq!(body["code"], code);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn any_other_write_passes_unchanged() {
        let json = "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                    content-length: 2\r\n\r\n{}";
        for written in [
            // An answer of the router: its errors carry JSON.
            json.as_bytes().to_vec(),
            // An empty answer that keeps the connection open is not hyper's parse error.
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}\r\n\r\n").into_bytes(),
            // A status hyper does not answer by itself.
            hypers("HTTP/1.1 408 Request Timeout"),
            hypers("HTTP/1.1 200 OK"),
            // Half a head, or a head with a body behind it.
            hypers("HTTP/1.1 414 URI Too Long")[..40].to_vec(),
            [hypers("HTTP/1.1 414 URI Too Long"), b"x".to_vec()].concat(),
            // HTTP/2's preface and a frame.
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            vec![0, 0, 4, 8, 0, 0, 0, 0, 0],
            Vec::new(),
        ] {
            assert!(json_answer(&written).is_none(), "{written:?}");
        }
    }

    /// A stream that takes at most 7 bytes a write and is not ready every other time.
    #[derive(Default)]
    struct Slow {
        out: Vec<u8>,
        ready: bool,
    }

    impl AsyncWrite for Slow {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.ready = !self.ready;
            if !self.ready {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(7);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_whole_answer_is_written_through_short_and_pending_writes() {
        use tokio::io::AsyncWriteExt as _;
        let head = hypers("HTTP/1.1 414 URI Too Long");
        let mut stream = JsonParseErrorStream {
            inner: Slow::default(),
            replacing: None,
        };
        let written = stream.write(&head).await.unwrap();
        assert_eq!(written, head.len(), "hyper's head counts as written, whole");
        stream.write_all(b"after").await.unwrap();
        let mut expected = json_answer(&head).unwrap();
        expected.extend_from_slice(b"after");
        assert_eq!(stream.inner.out, expected);
    }
}
