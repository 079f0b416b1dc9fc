//! The HTTP/2 side of a [`Connection`]: hyper's client, one connection shared by several
//! sending tasks (its streams), each holding a clone of the sender, driven by its own task.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::AbortHandle;

use super::super::http1::MAX_KEPT_BODY;
use super::super::outcome::TransportError;
use super::super::wire::{open_tcp, open_tls};
use super::{Connection, Response};

/// An HTTP/2 connection: its sender and the task driving its I/O.
pub(super) struct Http2Open {
    pub(super) sender: http2::SendRequest<Full<Bytes>>,
    /// Aborting the driver closes the socket at once.
    pub(super) driver: AbortHandle,
}

impl Connection {
    pub(super) async fn send_http2(
        &self,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Response, TransportError> {
        let mut sender = match self.open_http2_sender() {
            Some(sender) => sender,
            None => {
                let _connecting = self.shared.connecting.lock().await;
                // Another stream may have reconnected while this one waited.
                match self.open_http2_sender() {
                    Some(sender) => sender,
                    None => self.connect_http2().await?,
                }
            }
        };
        sender.ready().await.map_err(|_| TransportError::Reset)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| classify(&error))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut body_bytes = 0u64;
        let mut kept = keep_body.then(Vec::new);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| classify(&error))?;
            if let Some(data) = frame.data_ref() {
                body_bytes += data.len() as u64;
                if let Some(kept) = &mut kept {
                    let room = MAX_KEPT_BODY.saturating_sub(kept.len());
                    kept.extend_from_slice(&data[..room.min(data.len())]);
                }
            }
        }
        Ok(Response {
            status,
            body_bytes,
            body: kept,
        })
    }

    /// A clone of the open HTTP/2 connection's sender, if it is still usable.
    fn open_http2_sender(&self) -> Option<http2::SendRequest<Full<Bytes>>> {
        let open = self.shared.http2.borrow();
        let open = open.as_ref()?;
        (!open.sender.is_closed()).then(|| open.sender.clone())
    }

    async fn connect_http2(&self) -> Result<http2::SendRequest<Full<Bytes>>, TransportError> {
        self.close();
        // Either way a task drives the connection; its errors reach the requests in flight.
        let (sender, driver) = match &self.tls {
            None => handshake_http2(open_tcp(self.address, &self.shared.setup).await?).await?,
            Some(tls) => {
                handshake_http2(open_tls(self.address, tls, &self.shared.setup).await?).await?
            }
        };
        *self.shared.http2.borrow_mut() = Some(Http2Open {
            sender: sender.clone(),
            driver: driver.abort_handle(),
        });
        Ok(sender)
    }
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

/// The HTTP/2 handshake over an open stream (TCP or TLS), and the local task that drives the
/// connection; its errors reach the requests in flight.
async fn handshake_http2<S>(
    stream: S,
) -> Result<(http2::SendRequest<Full<Bytes>>, tokio::task::JoinHandle<()>), TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .map_err(|_| TransportError::Connect)?;
    let driver = tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok((sender, driver))
}
