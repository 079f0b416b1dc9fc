//! TLS for `https://` targets, through rustls with the ring provider.
//!
//! One [`TlsClient`] per run: every connection of every worker shares its configuration, and
//! so its session cache, so a reconnect resumes the session (on by default). ALPN offers
//! `http/1.1`, or only `h2` with `--http2`. `--tls-handshake-per-request` turns resumption
//! off and closes each connection after its response, so that every request pays a full
//! handshake. The run starts with one handshake of its own ([`probe`]): a certificate error
//! stops it there with one line naming the host and the reason, and what was agreed
//! (version, cipher suite, ALPN) goes into the run's `settings.tls`.

mod files;
mod probe;
mod ready;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};

pub use files::{certificates as read_certificates, private_key as read_private_key};
pub use probe::{Agreed, describe, handshake};
pub use ready::https_status;

use super::settings::HttpVersion;

/// How to speak TLS to the target: `ferry load`'s `--cacert`, `--insecure`, `--cert`/`--key`
/// and `--tls-handshake-per-request`, or a lab target's `[target.tls]` table. They apply to
/// `https://` targets only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted roots (PEM), beside the Mozilla roots compiled in.
    pub cacert: Option<PathBuf>,
    /// No verification of the server's certificate at all; every report says so.
    pub insecure: bool,
    /// A client certificate chain (PEM), for servers that require one (mTLS); with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
    /// A fresh connection and a full handshake (no resumption) for every request.
    pub handshake_per_request: bool,
}

impl TlsOptions {
    /// Whether any option was given (they mean nothing to an `http://` target).
    pub fn is_set(&self) -> bool {
        *self != TlsOptions::default()
    }

    /// Reads every file the options name and checks them as a handshake would: each is PEM,
    /// the CA certificates are usable roots, the client certificate matches its key. For the
    /// lab check, before anything starts.
    pub fn check(&self) -> Result<()> {
        config(self, Vec::new()).map(|_| ())
    }
}

/// What the run's JSON records of TLS (`settings.tls`); null for a plaintext run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRecord {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// As rustls names it, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The protocol agreed by ALPN (`http/1.1`, `h2`), or null when the server chose none.
    pub alpn: Option<String>,
    /// The server's certificate was not verified (`--insecure`).
    pub insecure: bool,
    /// `--tls-handshake-per-request`: a full handshake for every request.
    pub handshake_per_request: bool,
}

/// The TLS side of a run: the configuration every connection shares, and whom it talks to.
pub struct TlsClient {
    connector: tokio_rustls::TlsConnector,
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    /// The host as written in the URL, for messages.
    pub host: String,
    pub insecure: bool,
    pub handshake_per_request: bool,
    /// Set when the server asked for a client certificate that ferry does not have.
    certificate_asked: Arc<AtomicBool>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TlsClient")
            .field("host", &self.host)
            .field("insecure", &self.insecure)
            .field("handshake_per_request", &self.handshake_per_request)
            .finish()
    }
}

impl TlsClient {
    /// The client for `authority` (`host:port` of an `https://` URL), offering by ALPN what
    /// `http` speaks.
    pub fn new(options: &TlsOptions, authority: &str, http: HttpVersion) -> Result<TlsClient> {
        let host = host_of(authority);
        let server_name = ServerName::try_from(host.to_string())
            .with_context(|| format!("`{host}` is neither a DNS name nor an IP address"))?;
        let alpn = match http {
            HttpVersion::Http1 => b"http/1.1".to_vec(),
            HttpVersion::Http2 => b"h2".to_vec(),
        };
        let certificate_asked = Arc::new(AtomicBool::new(false));
        let mut config = config(options, vec![alpn])?;
        if options.cert.is_none() {
            config.client_auth_cert_resolver = Arc::new(NoCertificate {
                asked: certificate_asked.clone(),
            });
        }
        let config = Arc::new(config);
        Ok(TlsClient {
            connector: tokio_rustls::TlsConnector::from(config.clone()),
            config,
            server_name,
            host: host.to_string(),
            insecure: options.insecure,
            handshake_per_request: options.handshake_per_request,
            certificate_asked,
        })
    }

    /// Whether the server asked for a client certificate and ferry had none to give.
    pub fn certificate_asked(&self) -> bool {
        self.certificate_asked.load(Ordering::Relaxed)
    }

    /// The record of a run whose first handshake agreed `agreed`.
    pub fn record(&self, agreed: &Agreed) -> TlsRecord {
        TlsRecord {
            version: agreed.version.clone(),
            cipher_suite: agreed.cipher_suite.clone(),
            alpn: agreed.alpn.clone(),
            insecure: self.insecure,
            handshake_per_request: self.handshake_per_request,
        }
    }
}

/// The host of `host:port`, `[v6]:port` or a bare host, without brackets.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// The rustls configuration of `options`, offering `alpn` (public for `ferry shadow`, whose
/// hyper-rustls connector takes a configuration without ALPN).
pub fn config(options: &TlsOptions, alpn: Vec<Vec<u8>>) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("rustls's ring provider supports its default TLS versions")?;
    let roots = roots(options.cacert.as_deref())?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::NoVerification::new(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let chain = files::certificates(cert)?;
            let private_key = files::private_key(key)?;
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|error| match error {
                    rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
                        "the client certificate {} does not match the key {}",
                        cert.display(),
                        key.display()
                    ),
                    other => anyhow::anyhow!(
                        "the client certificate {} with the key {}: {other}",
                        cert.display(),
                        key.display()
                    ),
                })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => bail!("a client certificate (cert) needs its key (key)"),
        (None, Some(_)) => bail!("a client key (key) needs its certificate (cert)"),
    };
    config.alpn_protocols = alpn;
    // On by default (rustls keeps 256 servers' sessions in memory); off when every request is
    // to pay a full handshake.
    config.resumption = if options.handshake_per_request {
        Resumption::disabled()
    } else {
        Resumption::default()
    };
    Ok(config)
}

/// The Mozilla roots, plus the certificates of `cacert`.
fn roots(cacert: Option<&std::path::Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = cacert {
        for (index, certificate) in files::certificates(path)?.into_iter().enumerate() {
            roots.add(certificate).map_err(|error| {
                anyhow::anyhow!(
                    "{}: certificate {} is not a usable CA certificate: {error}",
                    path.display(),
                    index + 1
                )
            })?;
        }
    }
    Ok(roots)
}

/// Gives no client certificate, and remembers that the server asked for one, so that a run
/// whose every response is a refusal can say why.
#[derive(Debug)]
struct NoCertificate {
    asked: Arc<AtomicBool>,
}

impl ResolvesClientCert for NoCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.asked.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_taken_from_authorities() {
        assert_eq!(host_of("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(host_of("example.test"), "example.test");
        assert_eq!(host_of("[::1]:443"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }

    #[test]
    fn missing_and_unpaired_files_are_refused() {
        let missing = TlsOptions {
            cacert: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let error = format!("{:#}", missing.check().unwrap_err());
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
        let unpaired = TlsOptions {
            cert: Some("/nonexistent/client.pem".into()),
            ..TlsOptions::default()
        };
        assert!(unpaired.check().is_err());
        assert!(TlsOptions::default().check().is_ok());
    }
}
