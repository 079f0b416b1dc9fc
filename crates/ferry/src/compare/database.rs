//! The database both targets share: an embedded PostgreSQL started for the run (`pg-embedded`'s
//! throwaway cluster, removed afterwards), or the server `DATABASE_URL` names; the databases
//! of their own that `{database_url:NAME}` gives targets on the same server; and the snapshots
//! the resets restore them from (`reset.rs` decides when).
//!
//! ferry never drops a database it did not create: on a `DATABASE_URL` server it drops and
//! copies only the databases it created, each marked by a comment ([`MARK`]).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pg_embedded::{EmbeddedPostgres, with_database};

use super::live::Gauge;

/// The comment on every database ferry creates on the server: how a database left on a
/// `DATABASE_URL` server by an earlier run is told from one of someone else's.
pub const MARK: &str = "created by ferry compare (dropped and created again by its next run)";

/// The snapshot of the `index`-th database the resets restore: with a `-`, a name no
/// `{database_url:NAME}` can take.
fn snapshot_name(index: usize) -> String {
    format!("ferry-snapshot-{index}")
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

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
    /// The databases ferry created for `{database_url:NAME}`, in order of creation.
    created: Vec<String>,
    /// Each database the resets restore, with its snapshot, once taken.
    snapshots: Vec<(String, String)>,
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
                created: Vec::new(),
                snapshots: Vec::new(),
            });
        }
        let embedded = runtime
            .block_on(EmbeddedPostgres::throwaway())
            .context("starting the embedded PostgreSQL (set DATABASE_URL to use another server)")?;
        Ok(Database {
            url: embedded.url("postgres"),
            description: format!(
                "embedded PostgreSQL, socket in {} (throwaway cluster, fsync off)",
                embedded.socket_dir().display()
            ),
            bin_dir: Some(embedded.bin_dir().to_path_buf()),
            embedded: Some(embedded),
            runtime,
            created: Vec::new(),
            snapshots: Vec::new(),
        })
    }

    /// Whether ferry started the server (a throwaway cluster: every database in it is ferry's).
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
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

    /// The embedded server's process tree (the postmaster, its backends and background
    /// workers), to sample its CPU; `None` for an external server, which ferry cannot see.
    pub fn gauge(&self) -> Option<Gauge> {
        self.embedded
            .as_ref()
            .and_then(EmbeddedPostgres::server_pid)
            .map(Gauge::Tree)
    }

    /// Where ferry's own statements run: `template1` of the embedded cluster, so that every
    /// other database (`postgres` too) can be dropped and copied; on a `DATABASE_URL` server
    /// its own database, which ferry never drops.
    fn maintenance_url(&self) -> String {
        if self.is_embedded() {
            with_database(&self.url, "template1")
        } else {
            self.url.clone()
        }
    }

    /// Runs `statements` through `psql`, each in a transaction of its own (`CREATE DATABASE`
    /// and `DROP DATABASE` cannot run inside one), and stops at the first that fails. Returns
    /// what they printed, unaligned and without headers.
    fn psql(&self, statements: &[String]) -> Result<String> {
        let mut command = self.client("psql");
        command.args([
            &self.maintenance_url(),
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
        ]);
        for statement in statements {
            command.args(["-c", statement]);
        }
        let output = command
            .output()
            .context("running psql (install the PostgreSQL client)")?;
        if !output.status.success() {
            bail!(
                "psql `{}` failed: {}",
                statements.join("; "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// On a `DATABASE_URL` server, drops `name` when an earlier run of ferry left it (it has
    /// [`MARK`]), and refuses when it is someone else's. A throwaway cluster is new: no-op.
    fn clear_leftover(&self, name: &str) -> Result<()> {
        if self.is_embedded() {
            return Ok(());
        }
        let found = self.psql(&[format!(
            "SELECT 'found:' || coalesce(shobj_description(oid, 'pg_database'), '') \
             FROM pg_database WHERE datname = {}",
            literal(name)
        )])?;
        match found.trim().strip_prefix("found:") {
            None => Ok(()),
            Some(MARK) => self
                .psql(&[format!("DROP DATABASE {} WITH (FORCE)", quoted(name))])
                .map(drop),
            Some(_) => bail!(
                "database `{name}` already exists on the DATABASE_URL server and ferry did not \
                 create it; ferry never drops a database it did not create: drop it yourself, \
                 or give the lab another name"
            ),
        }
    }

    /// Creates the empty database `name` of `{database_url:name}` and returns its URL.
    pub fn create_named(&mut self, name: &str) -> Result<String> {
        self.clear_leftover(name)?;
        self.psql(&[
            format!("CREATE DATABASE {} TEMPLATE template0", quoted(name)),
            format!("COMMENT ON DATABASE {} IS {}", quoted(name), literal(MARK)),
        ])
        .with_context(|| format!("creating database `{name}` for {{database_url:{name}}}"))?;
        self.created.push(name.to_string());
        Ok(with_database(&self.url, name))
    }

    /// The databases a reset may restore: on the embedded cluster every database in it (the
    /// shared one, each `{database_url:NAME}` and any a setup step created); on a
    /// `DATABASE_URL` server only the ones ferry created.
    pub fn resettable(&self) -> Result<Vec<String>> {
        if !self.is_embedded() {
            return Ok(self.created.clone());
        }
        let names = self.psql(&[
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname".into(),
        ])?;
        Ok(names.lines().map(str::to_string).collect())
    }

    /// Copies each of `databases` to a snapshot: right after setup, while no session is
    /// connected to them (a database with sessions cannot be copied).
    pub fn snapshot(&mut self, databases: &[String]) -> Result<()> {
        for (index, name) in databases.iter().enumerate() {
            let snapshot = snapshot_name(index);
            self.clear_leftover(&snapshot)?;
            self.psql(&[
                format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    quoted(&snapshot),
                    quoted(name)
                ),
                format!(
                    "COMMENT ON DATABASE {} IS {}",
                    quoted(&snapshot),
                    literal(MARK)
                ),
            ])
            .with_context(|| {
                format!("taking a snapshot of database `{name}` after setup, for the resets")
            })?;
            self.snapshots.push((name.clone(), snapshot));
        }
        Ok(())
    }

    /// Puts every database of [`Database::snapshot`] back as setup left it: dropped, then
    /// copied from its snapshot. The targets must be stopped first; `WITH (FORCE)` only ends
    /// sessions that linger. Returns how long it took.
    pub fn restore(&self) -> Result<Duration> {
        let clock = Instant::now();
        let mut statements = Vec::with_capacity(self.snapshots.len() * 3);
        for (name, snapshot) in &self.snapshots {
            statements.push(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quoted(name)
            ));
            statements.push(format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quoted(name),
                quoted(snapshot)
            ));
            statements.push(format!(
                "COMMENT ON DATABASE {} IS {}",
                quoted(name),
                literal(MARK)
            ));
        }
        self.psql(&statements)
            .context("restoring the databases from their snapshots")?;
        Ok(clock.elapsed())
    }

    /// Stops the embedded cluster, if we started one; on an external server the snapshots
    /// are dropped and the rest left alone.
    pub fn stop(&mut self) -> Result<()> {
        if !self.is_embedded() && !self.snapshots.is_empty() {
            let drops: Vec<String> = self
                .snapshots
                .drain(..)
                .map(|(_, snapshot)| format!("DROP DATABASE IF EXISTS {}", quoted(&snapshot)))
                .collect();
            self.psql(&drops)
                .context("dropping the snapshots ferry took on the DATABASE_URL server")?;
        }
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
