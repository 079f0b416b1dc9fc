//! A keep-alive connection to the server, opened lazily and reopened after any failure.
//!
//! HTTP/1.1 is spoken by ferry's own client ([`super::http1`]), over TCP or over TLS
//! ([`super::wire`]). HTTP/2 goes through hyper ([`http2`]): a connection is shared by
//! several sending tasks (its streams), each holding a clone of the sender, and is driven by
//! its own task.
//!
//! The connections a request had to open are counted in the connection's [`ConnectionSetup`]
//! until the request takes them ([`Connection::take_setup`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use tokio::net::TcpStream;

mod http2;

use http2::Http2Open;

use super::http1::{Http1, encode};
use super::outcome::{ConnectionSetup, TransportError};
use super::settings::HttpVersion;
use super::tls::TlsClient;
use super::wire::{TlsWire, Wire, open_tcp, open_tls};

struct Shared {
    /// HTTP/1.1: the idle connection, taken out while a request is in flight (a dropped
    /// request closes its socket); over TCP, or over TLS for `https://`.
    http1: RefCell<Option<Http1<TcpStream>>>,
    https1: RefCell<Option<Http1<TlsWire>>>,
    http2: RefCell<Option<Http2Open>>,
    /// HTTP/1.1: the buffer requests are encoded into, reused.
    write: Cell<Vec<u8>>,
    /// Serialises HTTP/2 reconnects so that streams share one new connection.
    connecting: tokio::sync::Mutex<()>,
    /// Connects and handshakes not yet taken by a request.
    setup: Cell<ConnectionSetup>,
}

/// A lazily opened connection. Clones share the connection (HTTP/2 streams).
#[derive(Clone)]
pub struct Connection {
    address: SocketAddr,
    http: HttpVersion,
    /// Set for `https://` targets.
    tls: Option<Arc<TlsClient>>,
    shared: Rc<Shared>,
}

/// A response, read to its end.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body_bytes: u64,
    /// The body, when it was asked for (a flow step that extracts), up to
    /// [`super::http1::MAX_KEPT_BODY`].
    pub body: Option<Vec<u8>>,
}

impl Connection {
    pub fn new(address: SocketAddr, http: HttpVersion, tls: Option<Arc<TlsClient>>) -> Connection {
        Connection {
            address,
            http,
            tls,
            shared: Rc::new(Shared {
                http1: RefCell::new(None),
                https1: RefCell::new(None),
                http2: RefCell::new(None),
                write: Cell::new(Vec::with_capacity(512)),
                connecting: tokio::sync::Mutex::new(()),
                setup: Cell::new(ConnectionSetup::default()),
            }),
        }
    }

    /// Sends `request` and reads the whole response, connecting first if needed. Any failure
    /// closes the connection, so that the next request starts on a clean one.
    ///
    /// HTTP/1.1 requests are encoded before the returned future is first polled, so that the
    /// future does not carry the request (it is moved once or twice per request; small is
    /// cheaper).
    ///
    /// With `keep_body`, the response carries its body.
    pub fn send(
        &self,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> impl Future<Output = Result<Response, TransportError>> + '_ {
        let exchange = match self.http {
            HttpVersion::Http1 => {
                let head_only = request.method() == Method::HEAD;
                let mut encoded = self.shared.write.take();
                encode(request, &mut encoded);
                Ok((encoded, head_only))
            }
            HttpVersion::Http2 => Err(Box::pin(self.send_http2(request, keep_body))),
        };
        async move {
            match exchange {
                Ok((encoded, head_only)) => {
                    let outcome = match &self.tls {
                        None => {
                            let open = || open_tcp(self.address, &self.shared.setup);
                            self.send_http1(
                                &self.shared.http1,
                                open,
                                &encoded,
                                head_only,
                                keep_body,
                            )
                            .await
                        }
                        Some(tls) => {
                            let open = || open_tls(self.address, tls, &self.shared.setup);
                            self.send_http1(
                                &self.shared.https1,
                                open,
                                &encoded,
                                head_only,
                                keep_body,
                            )
                            .await
                        }
                    };
                    self.shared.write.set(encoded);
                    outcome
                }
                Err(http2) => {
                    let outcome = http2.await;
                    if outcome.is_err() || self.fresh_per_request() {
                        self.close();
                    }
                    outcome
                }
            }
        }
    }

    /// The connects and handshakes made since the last call: the request just sent needed
    /// them.
    pub fn take_setup(&self) -> ConnectionSetup {
        self.shared.setup.take()
    }

    /// Closes the connection: used after a timeout, when an HTTP/1.1 connection still has a
    /// response on the way and can carry nothing else.
    pub fn close(&self) {
        self.shared.http1.borrow_mut().take();
        self.shared.https1.borrow_mut().take();
        if let Some(open) = self.shared.http2.borrow_mut().take() {
            open.driver.abort();
        }
    }

    /// `--tls-handshake-per-request`: no connection carries a second request.
    fn fresh_per_request(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.handshake_per_request)
    }

    /// Sends on the idle connection of `idle`, or on one `open` opens.
    async fn send_http1<S: Wire, F: Future<Output = Result<S, TransportError>>>(
        &self,
        idle: &RefCell<Option<Http1<S>>>,
        open: impl FnOnce() -> F,
        encoded: &[u8],
        head_only: bool,
        keep_body: bool,
    ) -> Result<Response, TransportError> {
        let taken = idle.borrow_mut().take();
        let mut connection = match taken {
            Some(mut connection) => {
                if connection.still_open().await {
                    connection
                } else {
                    Http1::new(Box::pin(open()).await?)
                }
            }
            // Boxed: connecting is rare, and its future would make every request's bigger.
            None => Http1::new(Box::pin(open()).await?),
        };
        // On an error (or when this future is dropped by a timeout) `connection` is dropped
        // here, which closes its socket.
        let (response, reusable) = connection.exchange(encoded, head_only, keep_body).await?;
        if reusable && !self.fresh_per_request() {
            *idle.borrow_mut() = Some(connection);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A canned server that answers each request with the next of `responses`, then closes.
    async fn serve_canned(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::task::spawn_local(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 4096];
            for response in responses {
                let mut request = Vec::new();
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    let read = stream.read(&mut buffer).await.unwrap();
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                }
                // Dribble the response out in small pieces to exercise partial reads.
                for piece in response.chunks(7) {
                    stream.write_all(piece).await.unwrap();
                    stream.flush().await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
        });
        address
    }

    #[test]
    fn bodies_of_every_framing_are_read_and_counted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let address = serve_canned(vec![
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello",
                b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n\
                  A\r\n0123456789\r\n0\r\nTrailer: 1\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
            ])
            .await;
            let connection = Connection::new(address, HttpVersion::Http1, None);
            let get = || {
                let mut request = Request::new(Full::new(Bytes::new()));
                *request.uri_mut() = "/x".parse().unwrap();
                request
            };
            let first = connection.send(get(), false).await.unwrap();
            assert_eq!((first.status, first.body_bytes), (200, 5));
            let second = connection.send(get(), false).await.unwrap();
            assert_eq!((second.status, second.body_bytes), (404, 13));
            let third = connection.send(get(), false).await.unwrap();
            assert_eq!((third.status, third.body_bytes), (204, 0));
            let fourth = connection.send(get(), false).await.unwrap();
            assert_eq!((fourth.status, fourth.body_bytes), (200, 13));
            // The server is gone: the next request fails to connect or is reset.
            assert!(connection.send(get(), false).await.is_err());
        });
    }
}
