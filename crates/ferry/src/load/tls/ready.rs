//! Readiness over TLS: `ferry compare` polls a started `https` target's `ready` path this way
//! (the plaintext poll is `pg_embedded::http_status`). Blocking, with short timeouts, one
//! fresh connection per poll.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::Result;
use rustls::{ClientConnection, StreamOwned};

use super::{TlsClient, describe};

/// How long one poll may wait to connect, and then for each read or write.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The status of `GET path` at `address` over TLS. `Ok(None)` while the server cannot be
/// reached or does not answer yet (nothing listening, a reset, a timeout); an error when TLS
/// itself failed (a certificate refused, a server that does not speak TLS): waiting longer
/// would not help, so the caller stops at once.
pub fn https_status(client: &TlsClient, address: SocketAddr, path: &str) -> Result<Option<u16>> {
    let Ok(tcp) = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) else {
        return Ok(None);
    };
    if tcp.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || tcp.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return Ok(None);
    }
    let connection = ClientConnection::new(client.config.clone(), client.server_name.clone())
        .map_err(|error| anyhow::anyhow!("TLS with {}: {error}", client.host))?;
    let mut stream = StreamOwned::new(connection, tcp);
    let exchange = (|| -> io::Result<Option<u16>> {
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            client.host
        )?;
        stream.flush()?;
        // "HTTP/1.1 200": the status is bytes 9..12 of the status line.
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|code| code.parse().ok()))
    })();
    match exchange {
        Ok(status) => Ok(status),
        Err(error) if is_tls_error(&error) => {
            Err(anyhow::anyhow!("{}", describe(&error, &client.host)))
        }
        Err(_) => Ok(None),
    }
}

fn is_tls_error(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}
