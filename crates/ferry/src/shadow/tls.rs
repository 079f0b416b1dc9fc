//! TLS for shadow's `https://` targets: `--cacert`, `--insecure` and `--cert`/`--key` mean
//! what they mean to `ferry load`, through the same code ([`crate::load::tls`]: the roots, the
//! verifier that skips verification, the PEM file checks), handed to hyper-rustls's connector.
//! Before a run, one handshake with every `https://` target: a certificate error then stops
//! the run at once with one line naming the host and the reason, instead of counting every
//! request as a failed connection.

use std::time::Duration;

use anyhow::{Context, Result};
use rustls::ClientConfig;

use super::client::Upstream;
use crate::load::HttpVersion;
use crate::load::tls::{self, TlsClient, TlsOptions};

/// The rustls configuration every connection of a run shares. ALPN is left empty: the
/// connector sets it (HTTP/1.1 only).
pub fn client_config(options: &TlsOptions) -> Result<ClientConfig> {
    tls::config(options, Vec::new())
}

/// One connection and handshake with `target` when it is `https://`, within `timeout`.
pub async fn check_handshake(
    target: &Upstream,
    options: &TlsOptions,
    timeout: Duration,
) -> Result<()> {
    if !target.is_https() {
        return Ok(());
    }
    let authority = target.socket_authority();
    let address = tokio::net::lookup_host(authority.as_str())
        .await
        .with_context(|| {
            format!(
                "the {} ({}): resolving {authority}",
                target.role.name(),
                target.url
            )
        })?
        .next()
        .with_context(|| {
            format!(
                "the {} ({}): {authority} resolves to no address",
                target.role.name(),
                target.url
            )
        })?;
    let client = TlsClient::new(options, &authority, HttpVersion::Http1)?;
    // The probe runs on a thread of its own; this one may wait for it.
    tokio::task::block_in_place(|| client.probe(address, timeout))
        .with_context(|| format!("the {} ({})", target.role.name(), target.url))?;
    Ok(())
}
