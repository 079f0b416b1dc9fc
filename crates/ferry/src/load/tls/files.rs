//! Reading the PEM files of `--cacert`, `--cert` and `--key` (and of a lab's `[target.tls]`),
//! with errors that name the file and what is wrong with it.

use std::path::Path;

use anyhow::{Result, bail};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate of a PEM file, in order; at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|error| failure(path, &error))?;
    let mut certificates = Vec::new();
    for certificate in iter {
        certificates.push(certificate.map_err(|error| failure(path, &error))?);
    }
    if certificates.is_empty() {
        bail!(
            "{} holds no certificate (a PEM `BEGIN CERTIFICATE` block)",
            path.display()
        );
    }
    Ok(certificates)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| match error {
        pem::Error::NoItemsFound => anyhow::anyhow!(
            "{} holds no private key (a PEM `BEGIN PRIVATE KEY` block)",
            path.display()
        ),
        other => failure(path, &other),
    })
}

fn failure(path: &Path, error: &pem::Error) -> anyhow::Error {
    match error {
        pem::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
            anyhow::anyhow!("{} does not exist", path.display())
        }
        pem::Error::Io(io) => anyhow::anyhow!("reading {}: {io}", path.display()),
        other => anyhow::anyhow!("{} is not a valid PEM file: {other}", path.display()),
    }
}
