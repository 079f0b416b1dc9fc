//! What carries a connection's bytes: a TCP socket, or TLS over one. The HTTP/1.1 client is
//! generic over it, so the plaintext path compiles to what it was before TLS existed.
//!
//! Opening a wire is timed and counted (`totals.connects`, `totals.handshakes`) into the
//! connection's [`ConnectionSetup`], which the request that needed it takes.

use std::cell::Cell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::outcome::{ConnectionSetup, TransportError};
use super::tls::{TlsClient, handshake};

/// TLS over TCP, boxed: the stream and its session are large, and a connection is moved
/// around between requests.
pub type TlsWire = Box<TlsStream<TcpStream>>;

/// A connection's byte stream.
pub trait Wire: AsyncRead + AsyncWrite + Unpin + Sized {
    /// Whether written bytes may wait in a buffer of the wire's own (TLS records the socket
    /// did not take), so that a request must be flushed.
    const BUFFERED: bool;

    /// Whether an idle connection can carry a request: the server has not closed it (nor
    /// sent anything unasked). Costs no system call unless the socket became readable.
    fn poll_idle(&mut self, context: &mut Context<'_>) -> bool;
}

impl Wire for TcpStream {
    const BUFFERED: bool = false;

    fn poll_idle(&mut self, context: &mut Context<'_>) -> bool {
        match self.poll_read_ready(context) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(
                    self.try_read(&mut probe),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
                )
            }
        }
    }
}

impl Wire for TlsWire {
    const BUFFERED: bool = true;

    fn poll_idle(&mut self, context: &mut Context<'_>) -> bool {
        match self.get_ref().0.poll_read_ready(context) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                // Something came while idle: TLS 1.3 session tickets (a server sends them
                // after the handshake), a close_notify, or the end of the stream. Read it
                // through TLS: tickets yield no data and leave the connection usable.
                let mut probe = [0u8; 1];
                let mut buffer = ReadBuf::new(&mut probe);
                Pin::new(&mut **self)
                    .poll_read(context, &mut buffer)
                    .is_pending()
            }
        }
    }
}

/// Opens a TCP connection to `address`, counted in `setup`.
pub async fn open_tcp(
    address: SocketAddr,
    setup: &Cell<ConnectionSetup>,
) -> Result<TcpStream, TransportError> {
    let started = Instant::now();
    let stream = TcpStream::connect(address)
        .await
        .map_err(|_| TransportError::Connect)?;
    // Requests are small and latency is what we measure: never wait for Nagle.
    stream
        .set_nodelay(true)
        .map_err(|_| TransportError::Connect)?;
    update(setup, |counts| counts.connected(started.elapsed()));
    Ok(stream)
}

/// Opens a TCP connection to `address` and makes the TLS handshake on it, both counted in
/// `setup`. A failed handshake is a connect error, as a refused connection is.
pub async fn open_tls(
    address: SocketAddr,
    client: &TlsClient,
    setup: &Cell<ConnectionSetup>,
) -> Result<TlsWire, TransportError> {
    let tcp = open_tcp(address, setup).await?;
    let started = Instant::now();
    let stream = handshake(client, tcp)
        .await
        .map_err(|_| TransportError::Connect)?;
    update(setup, |counts| counts.shook_hands(started.elapsed()));
    Ok(Box::new(stream))
}

fn update(setup: &Cell<ConnectionSetup>, change: impl FnOnce(&mut ConnectionSetup)) {
    let mut counts = setup.get();
    change(&mut counts);
    setup.set(counts);
}
