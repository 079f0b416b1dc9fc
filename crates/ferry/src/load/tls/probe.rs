//! The handshake, and the first one of a run: made before any load, so that a certificate
//! error stops the run at once with one line naming the host and the reason, and so that
//! the run knows what was agreed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::{AlertDescription, CertificateError, ProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::TlsClient;

/// What the server and ferry agreed in a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    pub version: String,
    pub cipher_suite: String,
    pub alpn: Option<String>,
}

/// The TLS handshake over `tcp`.
pub async fn handshake(client: &TlsClient, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
    client
        .connector
        .connect(client.server_name.clone(), tcp)
        .await
}

impl TlsClient {
    /// One connection and handshake to `address`, closed again; within `timeout`. Its error
    /// is one line naming the host and the reason. Runs on a thread of its own, so that it may
    /// be called from anywhere, a tokio runtime included.
    pub fn probe(&self, address: SocketAddr, timeout: Duration) -> Result<Agreed> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.probe_here(address, timeout))
                .join()
                .map_err(|_| anyhow::anyhow!("the TLS probe's thread panicked"))?
        })
    }

    fn probe_here(&self, address: SocketAddr, timeout: Duration) -> Result<Agreed> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the TLS probe's event loop")?;
        let host = &self.host;
        runtime.block_on(async {
            let tcp = tokio::time::timeout(timeout, TcpStream::connect(address))
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "TLS with {host}: could not connect to {address} within {timeout:?}"
                    )
                })?
                .map_err(|error| {
                    anyhow::anyhow!("TLS with {host}: could not connect to {address}: {error}")
                })?;
            let stream = tokio::time::timeout(timeout, handshake(self, tcp))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("TLS with {host} ({address}): no handshake within {timeout:?}")
                })?
                .map_err(|error| anyhow::anyhow!("{}", describe(&error, host)))?;
            Ok(agreed(stream.get_ref().1))
        })
    }

    /// The probe of a run: as [`TlsClient::probe`], and refuses a server that did not agree
    /// to HTTP/2 when only `h2` was offered.
    pub fn probe_run(&self, address: SocketAddr, timeout: Duration, http2: bool) -> Result<Agreed> {
        let agreed = self.probe(address, timeout)?;
        if http2 && agreed.alpn.as_deref() != Some("h2") {
            bail!(
                "TLS with {}: the server did not agree to HTTP/2 (ALPN offered only h2, it chose {})",
                self.host,
                agreed.alpn.as_deref().unwrap_or("none")
            );
        }
        Ok(agreed)
    }
}

/// What a handshake agreed.
fn agreed(connection: &rustls::ClientConnection) -> Agreed {
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| {
            let suite = suite.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string());
    Agreed {
        version,
        cipher_suite,
        alpn: connection
            .alpn_protocol()
            .map(|protocol| String::from_utf8_lossy(protocol).into_owned()),
    }
}

/// A failed handshake with `host`, in one line: what went wrong and what to do about it.
pub fn describe(error: &io::Error, host: &str) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS with {host}: the connection failed during the handshake: {error}");
    };
    match tls {
        rustls::Error::InvalidCertificate(reason) => format!(
            "TLS with {host}: its certificate was refused: {}",
            certificate_reason(reason, host)
        ),
        rustls::Error::AlertReceived(alert) => {
            let hint = match alert {
                AlertDescription::CertificateRequired
                | AlertDescription::BadCertificate
                | AlertDescription::HandshakeFailure => {
                    " (does it require a client certificate? --cert FILE --key FILE)"
                }
                AlertDescription::NoApplicationProtocol => {
                    " (it speaks none of the protocols ferry offered by ALPN)"
                }
                AlertDescription::UnknownCA => " (it does not trust ferry's client certificate)",
                _ => "",
            };
            format!(
                "TLS with {host}: the server ended the handshake with the alert {alert:?}{hint}"
            )
        }
        rustls::Error::NoApplicationProtocol => format!(
            "TLS with {host}: the server speaks none of the protocols ferry offered by ALPN"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => format!(
            "TLS with {host}: the server did not answer in TLS ({tls}); is it plaintext HTTP? Then use http://"
        ),
        other => format!("TLS with {host}: the handshake failed: {other}"),
    }
}

fn certificate_reason(reason: &CertificateError, host: &str) -> String {
    match reason {
        CertificateError::UnknownIssuer => "it is signed by an unknown issuer; give ferry its CA \
             (--cacert FILE, or `cacert` in [target.tls]) or skip verification (--insecure)"
            .to_string(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("it was not issued for {host}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet".to_string()
        }
        CertificateError::BadSignature => "its signature is invalid".to_string(),
        CertificateError::Revoked => "it has been revoked".to_string(),
        other => format!("{other}"),
    }
}
