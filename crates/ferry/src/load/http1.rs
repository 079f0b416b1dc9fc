//! ferry's own HTTP/1.1 client, over any [`Wire`]: the request is written into a reused buffer
//! and sent with one `write`, the response head is parsed in place by `httparse` and the body
//! is counted and skipped without being copied out. The sending task drives the socket
//! itself, so a request costs one write, one read and one task wake-up, with no channel, no
//! header map for the response and no allocation. That is what brings ferry's per-request
//! CPU close to wrk's (hyper's client dispatcher cost about five times wrk's instructions per
//! request; see the benchmark in docs/ferry.md).

use std::io::Write as _;
use std::mem::MaybeUninit;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::header::CONTENT_LENGTH;
use hyper::{Method, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connection::Response;
use super::outcome::TransportError;
use super::wire::Wire;

/// Initial size of a connection's read buffer; it grows for large heads and large bodies.
const READ_BUFFER: usize = 8 * 1024;
/// Largest read buffer a connection grows to while reading a large body.
const MAX_READ_BUFFER: usize = 256 * 1024;
/// Largest response head accepted (hyper's default is about the same).
const MAX_HEAD: usize = 64 * 1024;
/// Most headers a response may have.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 8 * 1024;
/// Most body bytes kept for a flow's extraction; a longer body is cut there (and then is
/// not valid JSON).
pub const MAX_KEPT_BODY: usize = 4 * 1024 * 1024;

/// An HTTP/1.1 connection: its wire and its reused buffers.
pub struct Http1<S> {
    stream: S,
    /// Bytes read and not yet consumed are `read[start..end]`.
    read: Vec<u8>,
    start: usize,
    end: usize,
    /// Set while a response whose body is wanted is read: the body so far.
    kept: Option<Vec<u8>>,
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    Empty,
    Length(u64),
    Chunked,
    /// Read until the server closes the connection.
    UntilClose,
}

/// What the parsed head of a response says.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// Length of the head in bytes.
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

impl<S: Wire> Http1<S> {
    pub fn new(stream: S) -> Http1<S> {
        Http1 {
            stream,
            read: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            kept: None,
        }
    }

    /// Whether an idle connection can carry a request (see [`Wire::poll_idle`]).
    pub async fn still_open(&mut self) -> bool {
        std::future::poll_fn(|context| Poll::Ready(self.stream.poll_idle(context))).await
    }

    /// Sends an encoded request and reads its response; also says whether the connection can
    /// carry another request.
    /// With `keep_body`, the response carries its body (up to [`MAX_KEPT_BODY`]).
    pub async fn exchange(
        &mut self,
        encoded: &[u8],
        head_only: bool,
        keep_body: bool,
    ) -> Result<(Response, bool), TransportError> {
        self.kept = keep_body.then(Vec::new);
        self.stream
            .write_all(encoded)
            .await
            .map_err(|_| TransportError::Reset)?;
        if S::BUFFERED {
            self.stream
                .flush()
                .await
                .map_err(|_| TransportError::Reset)?;
        }
        self.read_response(head_only).await
    }

    async fn read_response(&mut self, head_only: bool) -> Result<(Response, bool), TransportError> {
        loop {
            let head = loop {
                if self.end > self.start
                    && let Some(head) = parse_head(&self.read[self.start..self.end], head_only)?
                {
                    break head;
                }
                if self.end - self.start >= MAX_HEAD {
                    return Err(TransportError::Other);
                }
                self.fill_or_reset().await?;
            };
            self.start += head.len;
            match head.status {
                101 => return Err(TransportError::Other),
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                100..=199 => continue,
                _ => {}
            }
            let body_bytes = match head.framing {
                Framing::Empty => 0,
                Framing::Length(length) => {
                    self.skip(length).await?;
                    length
                }
                Framing::Chunked => self.skip_chunked().await?,
                Framing::UntilClose => self.skip_to_close().await?,
            };
            // Anything after the response was not asked for: don't trust the connection.
            let reusable =
                head.keep_alive && head.framing != Framing::UntilClose && self.start == self.end;
            let response = Response {
                status: head.status,
                body_bytes,
                body: self.kept.take(),
            };
            return Ok((response, reusable));
        }
    }

    /// Reads more bytes into the buffer, making room first. Returns how many were read
    /// (0 at the end of the stream).
    async fn fill(&mut self) -> Result<usize, TransportError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.read.len() {
            if self.start > 0 {
                self.read.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                // A head or line longer than the buffer; callers bound how far this goes.
                self.read.resize(self.read.len() * 2, 0);
            }
        }
        let read = self
            .stream
            .read(&mut self.read[self.end..])
            .await
            .map_err(|_| TransportError::Reset)?;
        // A large body: read it in larger pieces.
        if read == self.read.len() && read < MAX_READ_BUFFER {
            self.read.resize(read * 2, 0);
        }
        self.end += read;
        Ok(read)
    }

    /// Like `fill`, but the end of the stream is an error: the response was cut short.
    async fn fill_or_reset(&mut self) -> Result<(), TransportError> {
        match self.fill().await? {
            0 => Err(TransportError::Reset),
            _ => Ok(()),
        }
    }

    /// Keeps the next `length` unconsumed bytes when the body is wanted.
    fn keep(&mut self, length: usize) {
        if let Some(kept) = &mut self.kept {
            let room = MAX_KEPT_BODY.saturating_sub(kept.len()).min(length);
            kept.extend_from_slice(&self.read[self.start..self.start + room]);
        }
    }

    /// Consumes `length` body bytes.
    async fn skip(&mut self, length: u64) -> Result<(), TransportError> {
        let mut remaining = length;
        loop {
            let available = ((self.end - self.start) as u64).min(remaining);
            self.keep(available as usize);
            self.start += available as usize;
            remaining -= available;
            if remaining == 0 {
                return Ok(());
            }
            self.fill_or_reset().await?;
        }
    }

    /// Consumes a chunked body and its trailers; returns the body's length.
    async fn skip_chunked(&mut self) -> Result<u64, TransportError> {
        let mut total = 0u64;
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.read[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) if self.end - self.start < MAX_LINE => {
                        self.fill_or_reset().await?;
                    }
                    _ => return Err(TransportError::Other),
                }
            };
            if size == 0 {
                break;
            }
            self.skip(size).await?;
            total += size;
            while self.end - self.start < 2 {
                self.fill_or_reset().await?;
            }
            if &self.read[self.start..self.start + 2] != b"\r\n" {
                return Err(TransportError::Other);
            }
            self.start += 2;
        }
        // Trailers, up to the empty line.
        loop {
            let line = loop {
                let pending = &self.read[self.start..self.end];
                if let Some(line) = pending.windows(2).position(|pair| pair == b"\r\n") {
                    break line;
                }
                if pending.len() >= MAX_LINE {
                    return Err(TransportError::Other);
                }
                self.fill_or_reset().await?;
            };
            self.start += line + 2;
            if line == 0 {
                return Ok(total);
            }
        }
    }

    /// Consumes a body delimited by the end of the connection.
    async fn skip_to_close(&mut self) -> Result<u64, TransportError> {
        let mut total = 0u64;
        loop {
            total += (self.end - self.start) as u64;
            self.keep(self.end - self.start);
            self.start = self.end;
            if self.fill().await? == 0 {
                return Ok(total);
            }
        }
    }
}

/// Writes `request` into `out`, as hyper would: origin-form target, the request's headers, a
/// `content-length` when there is a body (or the method expects one).
pub fn encode(request: Request<Full<Bytes>>, out: &mut Vec<u8>) {
    let (parts, body) = request.into_parts();
    let body = full_bytes(body);
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    if parts.uri.scheme().is_some() {
        let _ = write!(out, "{}", parts.uri);
    } else {
        let target = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        out.extend_from_slice(if target.is_empty() {
            b"/"
        } else {
            target.as_bytes()
        });
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_length = false;
    for (name, value) in &parts.headers {
        has_length |= name == CONTENT_LENGTH;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let expects_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    if !has_length && (!body.is_empty() || expects_body) {
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
}

/// Parses a response head at the start of `buffer`; `None` if it is not complete yet.
fn parse_head(buffer: &[u8], head_only: bool) -> Result<Option<Head>, TransportError> {
    // Left uninitialised: httparse writes the headers it parses, and only those are read.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buffer,
        &mut headers,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(TransportError::Other),
    };
    let status = response.code.ok_or(TransportError::Other)?;
    // HTTP/1.1 keeps the connection by default, HTTP/1.0 only when asked.
    let mut keep_alive = response.version == Some(1);
    let mut close = false;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let length = parse_content_length(header.value).ok_or(TransportError::Other)?;
            if content_length.is_some_and(|known| known != length) {
                return Err(TransportError::Other);
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Chunked must be the last coding applied.
            chunked = header
                .value
                .rsplit(|byte| *byte == b',')
                .next()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|byte| *byte == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if head_only || matches!(status, 100..=199 | 204 | 304) {
        Framing::Empty
    } else if transfer_encoding {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(length) = content_length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    // Both framings at once is a smuggling pattern: read this response, then reconnect.
    if transfer_encoding && content_length.is_some() {
        close = true;
    }
    Ok(Some(Head {
        len,
        status,
        framing,
        keep_alive: keep_alive && !close,
    }))
}

/// A `content-length` value: digits, or a comma-separated list of the same digits.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let mut length: Option<u64> = None;
    for part in value.split(|byte| *byte == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let parsed = std::str::from_utf8(part).ok()?.parse::<u64>().ok()?;
        if length.is_some_and(|known| known != parsed) {
            return None;
        }
        length = Some(parsed);
    }
    length
}

/// The bytes of a `Full` body (it yields them at once, without waiting).
fn full_bytes(body: Full<Bytes>) -> Bytes {
    let mut body = pin!(body);
    if body.is_end_stream() {
        return Bytes::new();
    }
    let mut context = Context::from_waker(Waker::noop());
    match body.as_mut().poll_frame(&mut context) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_say_how_the_body_ends() {
        let head = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello", false)
            .unwrap()
            .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Length(13));
        assert!(head.keep_alive);
        assert_eq!(head.len, 39);

        let partial = parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false).unwrap();
        assert!(partial.is_none());

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        let head = parse_head(chunked, false).unwrap().unwrap();
        assert_eq!(head.framing, Framing::Chunked);

        let old = b"HTTP/1.0 200 OK\r\n\r\n";
        let head = parse_head(old, false).unwrap().unwrap();
        assert_eq!(head.framing, Framing::UntilClose);
        assert!(!head.keep_alive);

        let close = b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let head = parse_head(close, false).unwrap().unwrap();
        assert_eq!(head.status, 503);
        assert!(!head.keep_alive);

        let head_only = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        let head = parse_head(head_only, true).unwrap().unwrap();
        assert_eq!(head.framing, Framing::Empty);

        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_head(b"garbage\r\n\r\n", false).is_err());
        assert_eq!(parse_content_length(b"5, 5"), Some(5));
        assert_eq!(parse_content_length(b"5, 6"), None);
    }

    #[test]
    fn requests_are_encoded_like_hyper_does() {
        let mut request = Request::new(Full::new(Bytes::from_static(b"{}")));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = "/users?x=1".parse().unwrap();
        request
            .headers_mut()
            .insert(hyper::header::HOST, "h:1".parse().unwrap());
        let mut encoded = Vec::new();
        encode(request, &mut encoded);
        assert_eq!(
            encoded,
            b"POST /users?x=1 HTTP/1.1\r\nhost: h:1\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}
