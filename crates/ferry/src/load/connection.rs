//! A keep-alive connection to the server, opened lazily and reopened after any failure.
//!
//! HTTP/1.1 connections carry one request at a time and belong to one sending task. An
//! HTTP/2 connection is shared by several sending tasks (its streams), each holding a clone of
//! the sender.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::outcome::TransportError;
use super::settings::HttpVersion;

enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(sender) => sender.is_closed(),
            Sender::Http2(sender) => sender.is_closed(),
        }
    }
}

struct Open {
    sender: Option<Sender>,
    /// The task driving the connection's I/O; aborting it closes the socket at once.
    driver: AbortHandle,
}

/// A lazily opened connection. Clones share the connection (HTTP/2 streams).
#[derive(Clone)]
pub struct Connection {
    address: SocketAddr,
    http: HttpVersion,
    open: Rc<RefCell<Option<Open>>>,
    /// Serialises reconnects so that HTTP/2 streams share one new connection.
    connecting: Rc<tokio::sync::Mutex<()>>,
}

/// A response, read to its end.
#[derive(Debug, Clone, Copy)]
pub struct Response {
    pub status: u16,
    pub body_bytes: u64,
}

impl Connection {
    pub fn new(address: SocketAddr, http: HttpVersion) -> Connection {
        Connection {
            address,
            http,
            open: Rc::new(RefCell::new(None)),
            connecting: Rc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Sends `request` and reads the whole response, connecting first if needed. Any failure
    /// closes the connection, so that the next request starts on a clean one.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response, TransportError> {
        let sender = self.acquire().await?;
        let outcome = match sender {
            Sender::Http1(mut sender) => {
                let outcome = send_on(&mut sender, request).await;
                if outcome.is_ok() {
                    self.release(Sender::Http1(sender));
                }
                outcome
            }
            Sender::Http2(mut sender) => send_on_http2(&mut sender, request).await,
        };
        if outcome.is_err() {
            self.close();
        }
        outcome
    }

    /// Closes the connection: used after a timeout, when an HTTP/1.1 connection still has a
    /// response on the way and can carry nothing else.
    pub fn close(&self) {
        if let Some(open) = self.open.borrow_mut().take() {
            open.driver.abort();
        }
    }

    async fn acquire(&self) -> Result<Sender, TransportError> {
        if let Some(sender) = self.take_open_sender() {
            return Ok(sender);
        }
        let _connecting = self.connecting.lock().await;
        // Another stream may have reconnected while this one waited.
        if let Some(sender) = self.take_open_sender() {
            return Ok(sender);
        }
        self.close();
        let stream = TcpStream::connect(self.address)
            .await
            .map_err(|_| TransportError::Connect)?;
        // Requests are small and latency is what we measure: never wait for Nagle.
        stream
            .set_nodelay(true)
            .map_err(|_| TransportError::Connect)?;
        let io = TokioIo::new(stream);
        let (sender, driver) = match self.http {
            HttpVersion::Http1 => {
                let (sender, connection) = http1::handshake(io)
                    .await
                    .map_err(|_| TransportError::Connect)?;
                let driver = tokio::task::spawn_local(async move {
                    // Its errors reach the request that was in flight; nothing to add here.
                    let _ = connection.await;
                });
                (Sender::Http1(sender), driver.abort_handle())
            }
            HttpVersion::Http2 => {
                let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|_| TransportError::Connect)?;
                let driver = tokio::task::spawn_local(async move {
                    let _ = connection.await;
                });
                (Sender::Http2(sender), driver.abort_handle())
            }
        };
        match sender {
            Sender::Http1(sender) => {
                *self.open.borrow_mut() = Some(Open {
                    sender: None,
                    driver,
                });
                Ok(Sender::Http1(sender))
            }
            Sender::Http2(sender) => {
                let clone = sender.clone();
                *self.open.borrow_mut() = Some(Open {
                    sender: Some(Sender::Http2(sender)),
                    driver,
                });
                Ok(Sender::Http2(clone))
            }
        }
    }

    /// The open connection's sender: taken out for HTTP/1.1 (one request at a time), cloned
    /// for HTTP/2. `None` when there is no usable connection.
    fn take_open_sender(&self) -> Option<Sender> {
        let mut open = self.open.borrow_mut();
        let current = open.as_mut()?;
        match &current.sender {
            Some(sender) if sender.is_closed() => None,
            Some(Sender::Http2(sender)) => Some(Sender::Http2(sender.clone())),
            Some(Sender::Http1(_)) => current.sender.take(),
            None => None,
        }
    }

    fn release(&self, sender: Sender) {
        if let Some(open) = self.open.borrow_mut().as_mut() {
            open.sender = Some(sender);
        }
    }
}

async fn send_on(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<Response, TransportError> {
    sender.ready().await.map_err(|_| TransportError::Reset)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| classify(&error))?;
    read_to_end(response).await
}

async fn send_on_http2(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<Response, TransportError> {
    sender.ready().await.map_err(|_| TransportError::Reset)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| classify(&error))?;
    read_to_end(response).await
}

async fn read_to_end(
    response: hyper::Response<hyper::body::Incoming>,
) -> Result<Response, TransportError> {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut body_bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| classify(&error))?;
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    Ok(Response { status, body_bytes })
}

/// Sorts hyper's errors into the kinds reports show.
fn classify(error: &hyper::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_parse() || error.is_user() {
        TransportError::Other
    } else {
        // Closed, canceled, incomplete message, I/O errors: the connection went away.
        TransportError::Reset
    }
}
