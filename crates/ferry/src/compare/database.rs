//! The database both targets share: an embedded PostgreSQL started for the run (`pg-embedded`'s
//! throwaway cluster, removed afterwards), or the server `DATABASE_URL` names.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use pg_embedded::{EmbeddedPostgres, with_database};

/// A running database and how to reach it.
pub struct Database {
    /// Where the services connect.
    pub url: String,
    /// What it is, for the report.
    pub description: String,
    /// Directory of `psql` and `pgbench` matching the server, when known.
    pub bin_dir: Option<PathBuf>,
    embedded: Option<EmbeddedPostgres>,
    /// The cluster is driven through async calls; this runtime exists only for them.
    runtime: tokio::runtime::Runtime,
}

impl Database {
    /// Uses `url` when given, else starts a throwaway embedded cluster.
    pub fn start(url: Option<&str>) -> Result<Database> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime that drives the embedded PostgreSQL")?;
        if let Some(url) = url {
            return Ok(Database {
                url: url.to_string(),
                description: "DATABASE_URL".to_string(),
                bin_dir: None,
                embedded: None,
                runtime,
            });
        }
        let embedded = runtime
            .block_on(EmbeddedPostgres::throwaway())
            .context("starting the embedded PostgreSQL (set DATABASE_URL to use another server)")?;
        Ok(Database {
            url: embedded.url("postgres"),
            description: format!(
                "embedded PostgreSQL on port {} (throwaway cluster, fsync off)",
                embedded.port()
            ),
            bin_dir: Some(embedded.bin_dir().to_path_buf()),
            embedded: Some(embedded),
            runtime,
        })
    }

    /// A client program (`psql`, `pgbench`) of the server's own version when embedded, else
    /// from `PATH`.
    pub fn client(&self, name: &str) -> Command {
        match &self.bin_dir {
            Some(dir) if dir.join(name).is_file() => Command::new(dir.join(name)),
            _ => Command::new(name),
        }
    }

    /// Creates database `name` on the same server (dropping an old one) and returns its URL.
    pub fn create_sibling(&self, name: &str) -> Result<String> {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            let output = self
                .client("psql")
                .args([self.url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", &sql])
                .output()
                .context("running psql (install the PostgreSQL client)")?;
            if !output.status.success() {
                bail!(
                    "psql `{sql}` failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
        }
        Ok(with_database(&self.url, name))
    }

    /// Stops the embedded cluster, if we started one; an external server is left alone.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut embedded) = self.embedded.take() {
            self.runtime
                .block_on(embedded.stop())
                .context("stopping the embedded PostgreSQL")?;
            // Dropping it removes the throwaway data directory.
            drop(embedded);
        }
        Ok(())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Best effort on the error path: the cluster's own Drop stops it too.
        let _ = self.stop();
    }
}
