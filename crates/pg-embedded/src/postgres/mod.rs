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
//! - Only the server user (and root) can connect: the server listens on no TCP address,
//!   only on a Unix socket (mode 0700) in a directory only the server user can enter,
//!   and trusts connections there as user `postgres` ([`layout`]). A random password
//!   was the alternative; it would be one more secret to keep, and it would show in the
//!   URLs handed to `psql` and `pgbench` on their command lines, which every local user
//!   can read in `/proc`. The URL names the socket directory libpq's way:
//!   `postgres:///db?host=/socket/dir&port=N&user=postgres`, which libpq (psql, pgbench),
//!   SQLx and tokio-postgres read as it is; postgres.js needs the Node baseline's help.
//! - A data directory the `postgres` user cannot enter (a checkout in `/root`, a
//!   `mktemp -d` directory) is moved to its home and linked ([`layout`]).
//! - The server is tied to this process ([`crate::child`]): if we die, it shuts down
//!   fast instead of lingering. A persistent cluster already served by another process
//!   (say, the running service while `user-service seed` runs) is reused, not restarted.

mod binaries;
mod error;
mod initdb;
mod launch;
mod layout;
mod server_user;
mod throwaway;

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

use crate::port::free_port;
pub use binaries::find_bin_dir;
pub use error::EmbeddedError;
use error::io_error;
use server_user::ServerUser;

/// The cluster's superuser, trusted on the cluster's private Unix socket.
const SUPERUSER: &str = "postgres";
/// Bytes of a socket path kept as they are in a URL query value; `/` stays readable.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
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
    /// Remove the cluster (data directory, log, link) when dropped: throwaway clusters.
    pub remove_on_drop: bool,
}

impl EmbeddedOptions {
    /// A persistent cluster, kept across runs.
    pub fn persistent(data_dir: impl Into<PathBuf>) -> Self {
        EmbeddedOptions {
            data_dir: data_dir.into(),
            ephemeral: false,
            max_connections: 200,
            remove_on_drop: false,
        }
    }
}

/// A running (or stopped, see [`EmbeddedPostgres::stop`]) PostgreSQL cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    options: EmbeddedOptions,
    bin_dir: PathBuf,
    user: ServerUser,
    /// The port in the socket's name (`.s.PGSQL.<port>`); nothing listens on TCP.
    port: u16,
    /// The directory of the server's Unix socket.
    socket_dir: PathBuf,
    /// `socket_dir` is a private directory we made (removed on drop), not the data dir.
    private_socket_dir: bool,
    /// The requested data directory, when it is a link to the real one ([`layout`]).
    link: Option<PathBuf>,
    /// The server process when we started it; `None` when we reuse another's server.
    child: Option<Child>,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `options.data_dir`, creating it first when needed, or
    /// attaches to the server already running on it.
    pub async fn start(mut options: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir()?;
        // The server runs in its data directory, so every path it gets must be absolute.
        let requested = std::path::absolute(&options.data_dir).map_err(io_error(format!(
            "resolving {}",
            options.data_dir.display()
        )))?;
        let user = ServerUser::for_this_process()?;
        options.data_dir = layout::reachable_data_dir(&user, &requested)?;
        let link = (options.data_dir != requested).then_some(requested);
        let mut cluster = EmbeddedPostgres {
            options,
            bin_dir,
            user,
            port: 0,
            socket_dir: PathBuf::new(),
            private_socket_dir: false,
            link,
            child: None,
        };
        if !cluster.options.data_dir.join("PG_VERSION").exists() {
            initdb::init_cluster(
                &cluster.bin_dir,
                &cluster.user,
                &cluster.options.data_dir,
                cluster.options.ephemeral,
            )?;
        }
        if let Some((port, socket_dir)) = cluster.running_server() {
            (cluster.port, cluster.socket_dir) = (port, socket_dir);
            if cluster.accepts_within(REUSE_TIMEOUT).await {
                tracing::info!(port, data_dir = %cluster.options.data_dir.display(), "reusing the running embedded PostgreSQL");
                return Ok(cluster);
            }
        }
        (cluster.socket_dir, cluster.private_socket_dir) =
            layout::socket_dir(&cluster.user, &cluster.options.data_dir)?;
        // Any port would do (the socket directory is the cluster's own); a free one keeps
        // a TCP probe of the URL's port from reaching some other server.
        cluster.port = free_port().map_err(io_error("finding a free port"))?;
        cluster.launch().await?;
        Ok(cluster)
    }

    /// A fresh cluster in a temporary directory, removed when dropped. Fast and not
    /// durable: for tests and labs.
    pub async fn throwaway() -> Result<Self, EmbeddedError> {
        let root = throwaway::throwaway_root()?;
        throwaway::sweep_abandoned(&root);
        let mut options = EmbeddedOptions::persistent(root.join(throwaway::unique_name()));
        options.ephemeral = true;
        options.max_connections = 500;
        options.remove_on_drop = true;
        EmbeddedPostgres::start(options).await
    }

    /// The port in the socket's name (`.s.PGSQL.<port>`); nothing listens on TCP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory in use: the requested one, or where it links to.
    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// The directory of the server's Unix socket, the only way in.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server's log file (when we started the server).
    pub fn log_file(&self) -> PathBuf {
        self.options.data_dir.with_extension("log")
    }

    /// A URL for `database` on this cluster, as the superuser, through the socket:
    /// `postgres:///{database}?host={socket dir}&port={port}&user=postgres`. Everything
    /// is in the query because a URL with a user but no host is invalid for SQLx's URL
    /// parser and for postgres.js.
    pub fn url(&self, database: &str) -> String {
        let host = percent_encode(self.socket_dir.as_os_str().as_bytes(), QUERY_VALUE);
        format!(
            "postgres:///{database}?host={host}&port={}&user={SUPERUSER}",
            self.port
        )
    }

    /// The directory of the server binaries in use (for `pgbench`, `psql`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The postmaster's pid, from the first line of its `postmaster.pid` (the server may
    /// run under another user than ours, behind a wrapper, so the child's pid is not it);
    /// `None` when no server runs on the data directory.
    pub fn server_pid(&self) -> Option<u32> {
        let pid_file = fs::read_to_string(self.options.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
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

    /// The port and socket directory of a server already running on this data
    /// directory, if any, from its `postmaster.pid` (pid, data directory, start time,
    /// port, first socket directory, ...).
    fn running_server(&self) -> Option<(u16, PathBuf)> {
        let pid_file = fs::read_to_string(self.options.data_dir.join("postmaster.pid")).ok()?;
        let mut lines = pid_file.lines();
        let pid: i32 = lines.next()?.trim().parse().ok()?;
        // Signal 0 asks whether the process exists without touching it.
        kill(Pid::from_raw(pid), None).ok()?;
        let port = lines.nth(2)?.trim().parse().ok()?;
        let socket_dir = lines.next()?.trim();
        (!socket_dir.is_empty()).then(|| (port, PathBuf::from(socket_dir)))
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_child(&child, Signal::SIGINT);
            let _ = child.wait();
        }
        if self.private_socket_dir {
            let _ = fs::remove_dir_all(&self.socket_dir);
        }
        if self.options.remove_on_drop {
            let _ = fs::remove_dir_all(&self.options.data_dir);
            let _ = fs::remove_file(self.log_file());
            if let Some(link) = &self.link {
                let _ = fs::remove_file(link);
            }
        }
    }
}

/// Sends `signal` to the server; ESRCH (it already exited) is what we want anyway.
fn signal_child(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = kill(pid, signal);
}
