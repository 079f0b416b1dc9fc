//! An embedded PostgreSQL, started from the machine's own server binaries.
//!
//! Used when no `DATABASE_URL` is configured: the service keeps a persistent cluster in
//! its data directory (`.data/postgres`), tests and labs get throwaway clusters. We drive
//! the machine's `initdb` and `postgres` ourselves rather than using a crate, because the
//! embedded-PostgreSQL crates download server builds from the internet at run time,
//! which this project must not depend on.
//!
//! - Binaries: see [`find_bin_dir`]. None: an error naming `DATABASE_URL` and the package.
//! - As root, the server runs as the `postgres` system user ([`server_user`]).
//! - The cluster trusts local connections as user `postgres` and listens on 127.0.0.1
//!   only, on a free port, with its Unix socket inside the data directory.
//! - The server is tied to this process ([`crate::child`]): if we die, it shuts down
//!   fast instead of lingering. A persistent cluster already served by another process
//!   (say, the running service while `user-service seed` runs) is reused, not restarted.

mod binaries;
mod error;
mod initdb;
mod launch;
mod server_user;
mod throwaway;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::port::free_port;
pub use binaries::find_bin_dir;
pub use error::EmbeddedError;
use error::io_error;
use server_user::ServerUser;

/// The cluster's superuser, trusted on local connections.
const SUPERUSER: &str = "postgres";
/// How long a server found running on our data directory may take to accept connections.
const REUSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a cluster is laid out and tuned.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The cluster's data directory; created (by `initdb`) when it does not exist.
    pub data_dir: PathBuf,
    /// Trade durability for speed (`fsync=off` and friends): for throwaway clusters.
    pub ephemeral: bool,
    /// `max_connections` of the server.
    pub max_connections: u32,
}

impl EmbeddedOptions {
    /// A persistent cluster, kept across runs.
    pub fn persistent(data_dir: impl Into<PathBuf>) -> Self {
        EmbeddedOptions {
            data_dir: data_dir.into(),
            ephemeral: false,
            max_connections: 200,
        }
    }
}

/// A running (or stopped, see [`EmbeddedPostgres::stop`]) PostgreSQL cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    options: EmbeddedOptions,
    bin_dir: PathBuf,
    user: ServerUser,
    port: u16,
    /// The server process when we started it; `None` when we reuse another's server.
    child: Option<Child>,
    /// Remove the data directory on drop (throwaway clusters).
    remove_on_drop: Option<PathBuf>,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `options.data_dir`, creating it first when needed, or
    /// attaches to the server already running on it.
    pub async fn start(mut options: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir()?;
        // The server runs in its data directory, so every path it gets must be absolute.
        options.data_dir = std::path::absolute(&options.data_dir).map_err(io_error(format!(
            "resolving {}",
            options.data_dir.display()
        )))?;
        let mut cluster = EmbeddedPostgres {
            options,
            bin_dir,
            user: ServerUser::for_this_process()?,
            port: 0,
            child: None,
            remove_on_drop: None,
        };
        if !cluster.options.data_dir.join("PG_VERSION").exists() {
            initdb::init_cluster(
                &cluster.bin_dir,
                &cluster.user,
                &cluster.options.data_dir,
                cluster.options.ephemeral,
            )?;
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            if cluster.accepts_within(REUSE_TIMEOUT).await {
                tracing::info!(port, data_dir = %cluster.options.data_dir.display(), "reusing the running embedded PostgreSQL");
                return Ok(cluster);
            }
        }
        cluster.port = free_port().map_err(io_error("finding a free port"))?;
        cluster.launch().await?;
        Ok(cluster)
    }

    /// A fresh cluster in a temporary directory, removed when dropped. Fast and not
    /// durable: for tests and labs.
    pub async fn throwaway() -> Result<Self, EmbeddedError> {
        let root = throwaway::throwaway_root();
        fs::create_dir_all(&root).map_err(io_error(format!("creating {}", root.display())))?;
        throwaway::sweep_abandoned(&root);
        let dir = root.join(throwaway::unique_name());
        let mut options = EmbeddedOptions::persistent(dir.join("data"));
        options.ephemeral = true;
        options.max_connections = 500;
        fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
        let mut cluster = EmbeddedPostgres::start(options).await?;
        cluster.remove_on_drop = Some(dir);
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// The server's log file (when we started the server).
    pub fn log_file(&self) -> PathBuf {
        self.options.data_dir.with_extension("log")
    }

    /// A URL for `database` on this cluster, as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The directory of the server binaries in use (for `pgbench`, `psql`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Stops the server with a fast shutdown (clients are disconnected, work is rolled
    /// back, the cluster stays consistent) and waits for it to exit.
    pub async fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.stop_with(Signal::SIGINT).await
    }

    /// Kills the server as a crash would (immediate shutdown: no checkpoint, recovery on
    /// the next start) and waits for it to exit. For fault tests.
    pub async fn crash(&mut self) -> Result<(), EmbeddedError> {
        self.stop_with(Signal::SIGQUIT).await
    }

    async fn stop_with(&mut self, signal: Signal) -> Result<(), EmbeddedError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal_child(&child, signal);
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .map_err(|join| io_error("waiting for PostgreSQL to stop")(io::Error::other(join)))?
            .map_err(io_error("waiting for PostgreSQL to stop"))?;
        Ok(())
    }

    /// Starts a stopped server again, on the same port.
    pub async fn start_again(&mut self) -> Result<(), EmbeddedError> {
        if self.child.is_some() {
            return Ok(());
        }
        self.launch().await
    }

    /// The port of a server already running on this data directory, if any.
    fn running_port(&self) -> Option<u16> {
        let pid_file = fs::read_to_string(self.options.data_dir.join("postmaster.pid")).ok()?;
        let mut lines = pid_file.lines();
        let pid: i32 = lines.next()?.trim().parse().ok()?;
        // Signal 0 asks whether the process exists without touching it.
        kill(Pid::from_raw(pid), None).ok()?;
        lines.nth(2)?.trim().parse().ok()
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_child(&child, Signal::SIGINT);
            let _ = child.wait();
        }
        if let Some(dir) = self.remove_on_drop.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Sends `signal` to the server; ESRCH (it already exited) is what we want anyway.
fn signal_child(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, signal);
}
