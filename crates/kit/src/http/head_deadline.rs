//! A deadline for every request head on a connection, not only its first.
//!
//! actix-http's `client_request_timeout` covers a connection's first head only, and its
//! keep-alive timer stops at the first byte of the next one: a client that sends one
//! byte of a second head holds the connection (and a descriptor) forever. actix offers
//! no setting for it, so the accepted socket is wrapped ([`DeadlineStream`]) and the
//! middleware ([`track_requests`]) tells the wrapper where requests begin and end:
//!
//! - when a response has been sent (its body dropped), the next head must be complete
//!   within `keep_alive + head_timeout` (this also bounds a partial head that arrived
//!   while the previous request was served);
//! - when the first byte of that head arrives, within `head_timeout` of it;
//! - once the head is parsed (the middleware runs), no head deadline applies: the body
//!   has its own deadline (`http::json`).
//!
//! Past the deadline the wrapper writes a bare `408` (as actix does for a first head),
//! and fails the read, so the dispatcher closes the connection.
//!
//! The wrapper also hands the dispatcher at most [`READ_PER_TURN_BYTES`] per turn of
//! the connection's task (see there): what a connection buffers is bounded by that,
//! not by actix's 128 KiB read buffer.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::body_memory::READ_PER_TURN_BYTES;

/// What a client gets when its head is late (the same bytes actix sends for a first head).
const REQUEST_TIMEOUT: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Where a connection is between requests, shared by its socket and its requests.
/// Single-threaded: a connection lives on one worker.
#[derive(Debug)]
pub struct ConnectionClock {
    head_timeout: Duration,
    next_head_timeout: Duration,
    /// Between a response and the next parsed head.
    awaiting_head: Cell<bool>,
    /// A byte of the awaited head has arrived.
    head_started: Cell<bool>,
    deadline: Cell<Option<Instant>>,
}

impl ConnectionClock {
    /// The first head is actix's (`client_request_timeout`), so no deadline yet.
    pub fn new(head_timeout: Duration, keep_alive: Duration) -> Self {
        ConnectionClock {
            head_timeout,
            next_head_timeout: keep_alive + head_timeout,
            awaiting_head: Cell::new(true),
            head_started: Cell::new(false),
            deadline: Cell::new(None),
        }
    }

    fn bytes_arrived(&self) {
        if self.awaiting_head.get() && !self.head_started.get() {
            self.head_started.set(true);
            let head_deadline = Instant::now() + self.head_timeout;
            let deadline = self
                .deadline
                .get()
                .map_or(head_deadline, |deadline| deadline.min(head_deadline));
            self.deadline.set(Some(deadline));
        }
    }

    fn request_started(&self) {
        self.awaiting_head.set(false);
        self.head_started.set(false);
        self.deadline.set(None);
    }

    fn response_sent(&self) {
        self.awaiting_head.set(true);
        self.head_started.set(false);
        self.deadline
            .set(Some(Instant::now() + self.next_head_timeout));
    }
}

/// The accepted socket, failing reads once the clock's deadline has passed.
pub struct DeadlineStream {
    io: TcpStream,
    clock: Rc<ConnectionClock>,
    timer: Pin<Box<Sleep>>,
    timer_set_for: Option<Instant>,
    /// Bytes read since the last `Pending`.
    read_this_turn: usize,
}

impl DeadlineStream {
    pub fn new(io: TcpStream, clock: ConnectionClock) -> Self {
        DeadlineStream {
            io,
            clock: Rc::new(clock),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_set_for: None,
            read_this_turn: 0,
        }
    }

    /// For the connection's requests (`HttpService::on_connect_ext`).
    pub fn clock(&self) -> Rc<ConnectionClock> {
        Rc::clone(&self.clock)
    }

    /// `Ready(error)` when the deadline has passed; else arms the timer to wake us.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.clock.deadline.get() else {
            return Poll::Pending;
        };
        if self.timer_set_for != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.timer_set_for = Some(deadline);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if self.clock.head_started.get() {
            // Best effort: the client is slow, not necessarily gone.
            let _ = self.io.try_write(REQUEST_TIMEOUT);
        }
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the next request head did not arrive in time",
        ))
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read_this_turn >= READ_PER_TURN_BYTES {
            // Let the dispatcher hand what it has read to the request (or discard it)
            // before it reads more; it is polled again at once.
            this.read_this_turn = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled().len() - before;
                if read > 0 {
                    this.clock.bytes_arrived();
                }
                this.read_this_turn += read;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                this.read_this_turn = 0;
                this.poll_deadline(cx).map(Err)
            }
        }
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// A response body that tells the connection's clock when it has been sent (dropped).
    pub struct TrackedBody<B> {
        #[pin]
        body: B,
        clock: Option<Rc<ConnectionClock>>,
    }

    impl<B> PinnedDrop for TrackedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(clock) = &this.clock {
                clock.response_sent();
            }
        }
    }
}

impl<B: MessageBody> MessageBody for TrackedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }
}

/// Middleware: marks where each request begins (head parsed) and ends (response sent).
pub async fn track_requests<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<TrackedBody<B>>, actix_web::Error> {
    let clock = request.conn_data::<Rc<ConnectionClock>>().cloned();
    if let Some(clock) = &clock {
        clock.request_started();
    }
    let response = match next.call(request).await {
        Ok(response) => response,
        Err(error) => {
            // The dispatcher turns the error into a small response and writes it now.
            if let Some(clock) = &clock {
                clock.response_sent();
            }
            return Err(error);
        }
    };
    Ok(response.map_body(|_, body| TrackedBody { body, clock }))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::AsyncWriteExt;

    use super::*;

    /// One turn of reading: reads of at most 8 KiB (what actix's buffer has spare) until
    /// `Pending`; the bytes read, and whether the end of the stream came.
    async fn one_turn(stream: &mut DeadlineStream) -> (usize, bool) {
        let mut chunk = [0u8; 8 * 1024];
        poll_fn(|cx| {
            let mut read = 0;
            loop {
                let mut buffer = ReadBuf::new(&mut chunk);
                match Pin::new(&mut *stream).poll_read(cx, &mut buffer) {
                    Poll::Ready(Ok(())) if buffer.filled().is_empty() => {
                        return Poll::Ready((read, true));
                    }
                    Poll::Ready(Ok(())) => read += buffer.filled().len(),
                    Poll::Ready(Err(error)) => panic!("reading: {error}"),
                    Poll::Pending => return Poll::Ready((read, false)),
                }
            }
        })
        .await
    }

    /// A client far ahead of the server: each turn of the connection's task reads about
    /// `READ_PER_TURN_BYTES` (the last read may pass it), and the next turn goes on
    /// where it stopped, to the end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_reads_a_bounded_amount_per_turn() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("its address");
        let sent = 512 * 1024;
        let client = tokio::spawn(async move {
            let mut client = TcpStream::connect(address).await?;
            client.write_all(&vec![b'x'; sent]).await?;
            client.shutdown().await
        });
        let (server, _) = listener.accept().await.expect("the connection");
        let clock = ConnectionClock::new(Duration::from_secs(5), Duration::from_secs(5));
        let mut stream = DeadlineStream::new(server, clock);
        // Let the kernel buffer far more than one turn.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (mut total, mut turns, mut largest) = (0, 0, 0);
        loop {
            let (read, ended) = one_turn(&mut stream).await;
            total += read;
            turns += 1;
            largest = largest.max(read);
            if ended {
                break;
            }
            if read == 0 {
                // Nothing buffered yet: wait for the client.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        client.await.expect("the client").expect("sending");
        assert_eq!(total, sent);
        assert!(
            largest >= READ_PER_TURN_BYTES,
            "the kernel held more than one turn: {largest}"
        );
        assert!(
            largest < READ_PER_TURN_BYTES + 8 * 1024,
            "at most one read past the turn's bytes: {largest}"
        );
        assert!(
            turns >= sent / (READ_PER_TURN_BYTES + 8 * 1024),
            "{turns} turns"
        );
    }
}
