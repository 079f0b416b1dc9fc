//! A keep-alive connection to the server, opened lazily and reopened after any failure.
//!
//! HTTP/1.1 connections carry one request at a time and belong to one sending task, which
//! also drives the connection's I/O itself instead of handing it to a task of its own: one
//! task wake-up per response instead of two, which is most of the difference to wrk's
//! throughput. An HTTP/2 connection is shared by several sending tasks (its streams), each
//! holding a clone of the sender, and is driven by its own task.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::outcome::TransportError;
use super::settings::HttpVersion;

/// The future that performs an HTTP/1.1 connection's I/O; dropping it closes the socket.
type Http1Driver = Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

enum Sender {
    Http1 {
        sender: http1::SendRequest<Full<Bytes>>,
        driver: Http1Driver,
    },
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::Http1 { sender, .. } => sender.is_closed(),
            Sender::Http2(sender) => sender.is_closed(),
        }
    }
}

struct Open {
    sender: Option<Sender>,
    /// HTTP/2: the task driving the connection's I/O; aborting it closes the socket at once.
    driver: Option<AbortHandle>,
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
            Sender::Http1 {
                mut sender,
                mut driver,
            } => {
                let outcome = drive(&mut driver, send_on(&mut sender, request)).await;
                if outcome.is_ok() {
                    self.release(Sender::Http1 { sender, driver });
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
        if let Some(Open {
            driver: Some(driver),
            ..
        }) = self.open.borrow_mut().take()
        {
            driver.abort();
        }
    }

    async fn acquire(&self) -> Result<Sender, TransportError> {
        if let Some(sender) = self.take_open_sender() {
            let Sender::Http1 { sender, mut driver } = sender else {
                return Ok(sender);
            };
            // Nobody polled the idle connection: let it notice a close by the server now,
            // rather than fail the next request on it.
            let ended = std::future::poll_fn(|context| {
                Poll::Ready(driver.as_mut().poll(context).is_ready())
            })
            .await;
            if !ended {
                return Ok(Sender::Http1 { sender, driver });
            }
            self.close();
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
                (
                    Sender::Http1 {
                        sender,
                        driver: Box::pin(connection),
                    },
                    None,
                )
            }
            HttpVersion::Http2 => {
                let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|_| TransportError::Connect)?;
                let driver = tokio::task::spawn_local(async move {
                    // Its errors reach the requests in flight; nothing to add here.
                    let _ = connection.await;
                });
                (Sender::Http2(sender), Some(driver.abort_handle()))
            }
        };
        match sender {
            Sender::Http1 { .. } => {
                *self.open.borrow_mut() = Some(Open {
                    sender: None,
                    driver,
                });
                Ok(sender)
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
            Some(Sender::Http1 { .. }) => current.sender.take(),
            None => None,
        }
    }

    fn release(&self, sender: Sender) {
        if let Some(open) = self.open.borrow_mut().as_mut() {
            open.sender = Some(sender);
        }
    }
}

/// Runs `work` (a request on an HTTP/1.1 connection) while driving the connection's I/O.
async fn drive(
    driver: &mut Http1Driver,
    work: impl Future<Output = Result<Response, TransportError>>,
) -> Result<Response, TransportError> {
    tokio::select! {
        biased;
        outcome = work => outcome,
        // The connection ended before the response did.
        _ = driver.as_mut() => Err(TransportError::Reset),
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
