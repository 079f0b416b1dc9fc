//! An embedded PostgreSQL, started from the machine's own server binaries.
//!
//! Used when no `DATABASE_URL` is configured: the service keeps a persistent cluster in
//! its data directory (`.data/postgres`), tests get throwaway clusters. We drive the
//! machine's `initdb` and `postgres` ourselves rather than using a crate, because the
//! embedded-PostgreSQL crates download server builds from the internet at run time,
//! which this project must not depend on.
//!
//! - Binaries: `$PG_BINDIR`, else `pg_config --bindir`, else the newest
//!   `/usr/lib/postgresql/*/bin`. None: an error naming `DATABASE_URL` and the package.
//! - PostgreSQL refuses to run as root: as root the server runs as the `postgres` system
//!   user, which then owns the data directory.
//! - The cluster trusts local connections as user `postgres` and listens on 127.0.0.1
//!   only, on a free port, with its Unix socket inside the data directory.
//! - The server is tied to this process (`PR_SET_PDEATHSIG`): if we die, it shuts down
//!   fast instead of lingering. A persistent cluster already served by another process
//!   (say, the running service while `user-service seed` runs) is reused, not restarted.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};
use sqlx::Connection;

use crate::child::spawn_tied;

/// Why the embedded PostgreSQL could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL server binaries found (looked at $PG_BINDIR, `pg_config --bindir` and /usr/lib/postgresql/*/bin). \
         Either set DATABASE_URL to an existing PostgreSQL server, or install the server binaries \
         (Debian/Ubuntu: `apt-get install postgresql`)"
    )]
    NoBinaries,
    #[error(
        "running as root, and there is no `postgres` system user to run the embedded PostgreSQL as \
         (PostgreSQL refuses to run as root). Install the `postgresql` package, which creates it, \
         or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
    #[error("{command} failed ({status}); its output:\n{output}")]
    CommandFailed {
        command: String,
        status: String,
        output: String,
    },
    #[error("PostgreSQL did not start within {seconds} s; the end of its log ({log}):\n{tail}")]
    StartTimeout {
        seconds: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("PostgreSQL exited while starting ({status}); the end of its log ({log}):\n{tail}")]
    ExitedAtStart {
        status: String,
        log: PathBuf,
        tail: String,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let action = action.into();
    move |source| EmbeddedError::Io { action, source }
}

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
    run_as: Option<User>,
    port: u16,
    /// The server process when we started it; `None` when we reuse another's server.
    child: Option<Child>,
    /// Remove the data directory on drop (throwaway clusters).
    remove_on_drop: Option<PathBuf>,
}

const SUPERUSER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
        let run_as = if Uid::effective().is_root() {
            Some(
                User::from_name(SUPERUSER)
                    .ok()
                    .flatten()
                    .ok_or(EmbeddedError::NoPostgresUser)?,
            )
        } else {
            None
        };
        let mut cluster = EmbeddedPostgres {
            options,
            bin_dir,
            run_as,
            port: 0,
            child: None,
            remove_on_drop: None,
        };
        if !cluster.options.data_dir.join("PG_VERSION").exists() {
            cluster.init_cluster()?;
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            if cluster
                .wait_until_accepting(Duration::from_secs(10))
                .await
                .is_ok()
            {
                tracing::info!(port, data_dir = %cluster.options.data_dir.display(), "reusing the running embedded PostgreSQL");
                return Ok(cluster);
            }
        }
        cluster.port = free_port()?;
        cluster.launch().await?;
        Ok(cluster)
    }

    /// A fresh cluster in a temporary directory, removed when dropped. Fast and not
    /// durable: for tests.
    pub async fn throwaway() -> Result<Self, EmbeddedError> {
        let root = throwaway_root();
        fs::create_dir_all(&root).map_err(io_error(format!("creating {}", root.display())))?;
        sweep_abandoned(&root);
        let dir = root.join(format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
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
        log_file_of(&self.options.data_dir)
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
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        // ESRCH: it already exited, which is what we want.
        let _ = kill(pid, signal);
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

    fn init_cluster(&self) -> Result<(), EmbeddedError> {
        let data_dir = &self.options.data_dir;
        let parent = data_dir.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
        // initdb into a sibling and rename it into place, so an interrupted initdb never
        // leaves a half-made cluster where the next start would trip over it.
        let staging = data_dir.with_extension("initdb");
        if staging.exists() {
            fs::remove_dir_all(&staging)
                .map_err(io_error(format!("removing {}", staging.display())))?;
        }
        fs::create_dir_all(&staging)
            .map_err(io_error(format!("creating {}", staging.display())))?;
        self.hand_over(parent, false)?;
        self.hand_over(&staging, true)?;
        let mut command = Command::new(self.bin_dir.join("initdb"));
        command.arg("-D").arg(&staging).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if self.options.ephemeral {
            command.arg("--no-sync");
        }
        self.run_as_server_user(&mut command);
        let output = command.output().map_err(io_error(format!(
            "running {}",
            self.bin_dir.join("initdb").display()
        )))?;
        if !output.status.success() {
            return Err(EmbeddedError::CommandFailed {
                command: "initdb".into(),
                status: output.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        fs::rename(&staging, data_dir).map_err(io_error(format!(
            "moving the new cluster to {}",
            data_dir.display()
        )))?;
        tracing::info!(data_dir = %data_dir.display(), "created an embedded PostgreSQL cluster");
        Ok(())
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

    async fn launch(&mut self) -> Result<(), EmbeddedError> {
        let data_dir = self.options.data_dir.clone();
        let log_path = log_file_of(&data_dir);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_error(format!("opening {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("duplicating the log file handle"))?;
        let mut command = Command::new(self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", data_dir.display()))
            .arg("-c")
            .arg(format!("max_connections={}", self.options.max_connections));
        if self.options.ephemeral {
            // Not synchronous_commit=off: crash tests kill the server, and commits must
            // survive a process crash (fsync only matters if the machine dies).
            for setting in ["fsync=off", "full_page_writes=off"] {
                command.args(["-c", setting]);
            }
        }
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        self.run_as_server_user(&mut command);
        // SIGINT is a fast shutdown: if we die, the server stops cleanly.
        let child = spawn_tied(command, Signal::SIGINT).map_err(io_error("starting postgres"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(EmbeddedError::ExitedAtStart {
                    status: status.to_string(),
                    tail: tail_of(&log_path),
                    log: log_path,
                });
            }
            if self.try_connect().await {
                tracing::info!(port = self.port, data_dir = %data_dir.display(), "embedded PostgreSQL is up");
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::StartTimeout {
                    seconds: START_TIMEOUT.as_secs(),
                    tail: tail_of(&log_path),
                    log: log_path,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_until_accepting(&self, within: Duration) -> Result<(), ()> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.try_connect().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(())
    }

    async fn try_connect(&self) -> bool {
        match sqlx::PgConnection::connect(&self.url("postgres")).await {
            Ok(connection) => {
                let _ = connection.close().await;
                true
            }
            Err(_) => false,
        }
    }

    fn run_as_server_user(&self, command: &mut Command) {
        if let Some(user) = &self.run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            // HOME of root is not readable by postgres; some tools look there.
            command.env("HOME", &user.dir);
        }
    }

    /// Gives `dir` to the server user when we run as root (the server must own its
    /// data directory and be able to reach it).
    fn hand_over(&self, dir: &Path, own: bool) -> Result<(), EmbeddedError> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        if own {
            chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io_error(
                format!("giving {} to the postgres user", dir.display()),
            ))?;
        } else {
            // The parent only needs to be traversable by the server user.
            use std::os::unix::fs::PermissionsExt;
            let metadata =
                fs::metadata(dir).map_err(io_error(format!("reading {}", dir.display())))?;
            let mode = metadata.permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o711))
                    .map_err(io_error(format!("making {} traversable", dir.display())))?;
            }
        }
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let _ = kill(pid, Signal::SIGINT);
            let _ = child.wait();
        }
        if let Some(dir) = self.remove_on_drop.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

fn log_file_of(data_dir: &Path) -> PathBuf {
    data_dir.with_extension("log")
}

fn tail_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Finds the directory holding `postgres` and `initdb`.
pub fn find_bin_dir() -> Result<PathBuf, EmbeddedError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from)
        && has_server(&dir)
    {
        return Ok(dir);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let dir = entry.path().join("bin");
            has_server(&dir).then_some((version, dir))
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, dir)| dir)
        .ok_or(EmbeddedError::NoBinaries)
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io_error("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("finding a free port"))?
        .port();
    Ok(port)
}

fn throwaway_root() -> PathBuf {
    std::env::temp_dir().join("kit-embedded-postgres")
}

/// Removes throwaway clusters whose owning process is gone (a test run that was killed).
fn sweep_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.split('-').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        if kill(Pid::from_raw(pid), None).is_err() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
