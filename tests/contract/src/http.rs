//! HTTP plumbing of the checks: a client, a fully read response, raw TCP for what a
//! client library will not send, and the assertions every response shares.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Target;

pub const JSON_TYPE: &str = "application/json; charset=utf-8";

/// A fully read response.
#[derive(Debug, Clone)]
pub struct Reply {
    /// What was asked, for messages: `GET /users/x`.
    pub request: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "{}: body is not JSON ({error}): {:?}",
                self.request,
                self.text()
            )
        })
    }

    pub fn context(&self) -> String {
        format!(
            "{} -> {} {:?}",
            self.request,
            self.status,
            truncate(&self.text(), 600)
        )
    }

    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "{}: expected status {status}",
            self.context()
        );
        self
    }

    /// Status, JSON content type, `x-request-id`, and the error body
    /// `{"error": message, "request_id": <the x-request-id header>}`.
    pub fn assert_error(&self, status: u16, message: &str) -> Value {
        self.assert_status(status);
        self.assert_json_type();
        let body = self.json();
        assert_eq!(
            body.get("error").and_then(Value::as_str),
            Some(message),
            "{}: expected error message {message:?}",
            self.context()
        );
        self.assert_request_id_in_body(&body);
        body
    }

    /// An error body with `error` of any text (where the contract fixes no message).
    pub fn assert_some_error(&self, status: u16) -> Value {
        self.assert_status(status);
        self.assert_json_type();
        let body = self.json();
        assert!(
            body.get("error").and_then(Value::as_str).is_some(),
            "{}: expected an error body with a string `error`",
            self.context()
        );
        self.assert_request_id_in_body(&body);
        body
    }

    pub fn assert_request_id_in_body(&self, body: &Value) {
        let header = self.request_id();
        assert_eq!(
            body.get("request_id").and_then(Value::as_str),
            Some(header.as_str()),
            "{}: error body `request_id` must equal the x-request-id header",
            self.context()
        );
    }

    /// The `x-request-id` header, which every response must carry.
    pub fn request_id(&self) -> String {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("{}: no x-request-id header", self.context()))
            .to_string()
    }

    pub fn assert_json_type(&self) -> &Self {
        assert_eq!(
            self.header("content-type"),
            Some(JSON_TYPE),
            "{}: content type of a JSON body",
            self.context()
        );
        self
    }
}

pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &text[..end], text.len())
}

/// A client for one check (clients are bound to the runtime that made them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building an HTTP client")
}

/// A request under construction.
pub struct Call<'a> {
    target: &'a Target,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub fn new(target: &'a Target, method: &str, path: &str) -> Self {
        Call {
            target,
            method: Method::from_bytes(method.as_bytes()).expect("a valid method"),
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body (sent as `application/json`).
    pub fn json(self, body: &Value) -> Self {
        self.raw_json(serde_json::to_vec(body).expect("serializing JSON"))
    }

    /// Bytes sent with `Content-Type: application/json`.
    pub fn raw_json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", "application/json").body(body)
    }

    /// Bytes with whatever content type the headers say (none if none).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub async fn send(self) -> Reply {
        let client = client();
        self.send_with(&client).await
    }

    pub async fn send_with(self, client: &reqwest::Client) -> Reply {
        let request_text = format!("[{}] {} {}", self.target.name, self.method, self.path);
        let mut builder = client.request(self.method.clone(), self.target.url(&self.path));
        for (name, value) in &self.headers {
            builder = builder.header(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(value.as_bytes()).expect("header value"),
            );
        }
        if let Some(body) = self.body {
            builder = builder.body(body);
        }
        let response = builder
            .send()
            .await
            .unwrap_or_else(|error| panic!("{request_text}: request failed: {error:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|error| panic!("{request_text}: reading the body failed: {error}"))
            .to_vec();
        Reply {
            request: request_text,
            status,
            headers,
            body,
        }
    }
}

pub fn get<'a>(target: &'a Target, path: &str) -> Call<'a> {
    Call::new(target, "GET", path)
}

pub fn post<'a>(target: &'a Target, path: &str) -> Call<'a> {
    Call::new(target, "POST", path)
}

pub fn patch<'a>(target: &'a Target, path: &str) -> Call<'a> {
    Call::new(target, "PATCH", path)
}

pub fn delete<'a>(target: &'a Target, path: &str) -> Call<'a> {
    Call::new(target, "DELETE", path)
}

/// What came back on a raw connection.
#[derive(Debug)]
pub struct RawReply {
    /// `None` when the server closed without a response.
    pub status: Option<u16>,
    pub head: String,
    pub body: Vec<u8>,
    /// The server closed the connection (EOF or reset) within the wait.
    pub closed: bool,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

/// Writes `bytes` on a new connection and reads until the server closes it, a complete
/// response (by `Content-Length`) has arrived, or `wait` has passed.
pub async fn raw(target: &Target, bytes: &[u8], wait: Duration) -> RawReply {
    let mut stream = TcpStream::connect(target.authority())
        .await
        .unwrap_or_else(|error| panic!("[{}] connecting: {error}", target.name));
    // The server may answer (and close) before it has read everything: ignore a failed
    // write, what matters is the answer.
    let _ = stream.write_all(bytes).await;
    read_raw(&mut stream, wait).await
}

pub async fn read_raw(stream: &mut TcpStream, wait: Duration) -> RawReply {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received = Vec::new();
    let mut closed = false;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if response_complete(&received) {
            break;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
    let (head, body) = split_head(&received);
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    RawReply {
        status,
        head,
        body,
        closed,
    }
}

fn split_head(received: &[u8]) -> (String, Vec<u8>) {
    match received.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(at) => (
            String::from_utf8_lossy(&received[..at]).into_owned(),
            received[at + 4..].to_vec(),
        ),
        None => (String::from_utf8_lossy(received).into_owned(), Vec::new()),
    }
}

fn response_complete(received: &[u8]) -> bool {
    let Some(at) = received.windows(4).position(|window| window == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&received[..at]);
    let length = head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    match length {
        Some(length) => received.len() >= at + 4 + length,
        None => false,
    }
}

/// Asserts a raw reply is a JSON error `{"error": message, "request_id"}`.
pub fn assert_raw_error(what: &str, reply: &RawReply, status: u16, message: &str) {
    assert_eq!(
        reply.status,
        Some(status),
        "{what}: expected status {status}; got head {:?}",
        truncate(&reply.head, 400)
    );
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some(JSON_TYPE),
        "{what}: content type; head {:?}",
        reply.head
    );
    let request_id = reply
        .header("x-request-id")
        .unwrap_or_else(|| panic!("{what}: no x-request-id; head {:?}", reply.head));
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|error| {
        panic!(
            "{what}: body is not JSON ({error}): {:?}",
            String::from_utf8_lossy(&reply.body)
        )
    });
    assert_eq!(
        body.get("error").and_then(Value::as_str),
        Some(message),
        "{what}: error message; body {body}"
    );
    assert_eq!(
        body.get("request_id").and_then(Value::as_str),
        Some(request_id.as_str()),
        "{what}: request_id equals x-request-id; body {body}"
    );
}
