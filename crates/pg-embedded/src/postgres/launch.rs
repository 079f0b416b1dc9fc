//! Starting the server process and waiting until it accepts connections.
//!
//! Readiness is asked of the server's own `pg_isready` rather than by connecting with a
//! driver: this crate must not pull sqlx (or any client library) into ferry, and
//! `pg_isready` answers the very question — "accepting connections", not "starting up" or
//! "no response" — from the same installation as the server, so its protocol always
//! matches. A probe costs one short process every poll, which only start-up pays.

use std::fs;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::binaries::client_program;
use super::error::{EmbeddedError, io_error};
use super::{EmbeddedPostgres, SUPERUSER};
use crate::child::spawn_tied;
use crate::log_tail::tail;
use crate::ready::{Readiness, wait_ready};

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Lines of the server log quoted when it fails to start.
const LOG_TAIL_LINES: usize = 20;

impl EmbeddedPostgres {
    /// Starts the server on `self.port`, tied to this process, and waits until it accepts
    /// connections.
    pub(super) async fn launch(&mut self) -> Result<(), EmbeddedError> {
        let log_path = self.log_file();
        let command = self.server_command(&log_path)?;
        // SIGINT is a fast shutdown: if we die, the server stops cleanly.
        let mut child =
            spawn_tied(command, Signal::SIGINT).map_err(io_error("starting postgres"))?;
        let (bin_dir, port) = (self.bin_dir.clone(), self.port);
        // The poll blocks, so it runs off the async workers; the child goes with it and
        // comes back, to be kept (or stopped by Drop) whatever the outcome.
        let (child, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = wait_ready(
                Some(&mut child),
                Instant::now(),
                START_TIMEOUT,
                POLL_INTERVAL,
                || accepts_connections(&bin_dir, port),
            );
            (child, outcome)
        })
        .await
        .map_err(|join| io_error("waiting for PostgreSQL to start")(io::Error::other(join)))?;
        match outcome.map_err(io_error("waiting for PostgreSQL to start"))? {
            Readiness::Ready(_) => {
                self.child = Some(child);
                tracing::info!(port, data_dir = %self.data_dir().display(), "embedded PostgreSQL is up");
                Ok(())
            }
            Readiness::Exited(status) => Err(EmbeddedError::ExitedAtStart {
                status: status.to_string(),
                tail: tail(&log_path, LOG_TAIL_LINES),
                log: log_path,
            }),
            Readiness::TimedOut => {
                // Kept so that dropping the cluster stops it.
                self.child = Some(child);
                Err(EmbeddedError::StartTimeout {
                    seconds: START_TIMEOUT.as_secs(),
                    tail: tail(&log_path, LOG_TAIL_LINES),
                    log: log_path,
                })
            }
        }
    }

    /// Whether a server (ours or another process's) accepts connections on `self.port`
    /// within `within`.
    pub(super) async fn accepts_within(&self, within: Duration) -> bool {
        let (bin_dir, port) = (self.bin_dir.clone(), self.port);
        let outcome = tokio::task::spawn_blocking(move || {
            wait_ready(None, Instant::now(), within, POLL_INTERVAL, || {
                accepts_connections(&bin_dir, port)
            })
        })
        .await;
        matches!(outcome, Ok(Ok(Readiness::Ready(_))))
    }

    /// `postgres` on our data directory and port, 127.0.0.1 only, its output appended to
    /// the log file.
    fn server_command(&self, log_path: &Path) -> Result<Command, EmbeddedError> {
        let data_dir = self.data_dir();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(io_error(format!("opening {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_error("duplicating the log file handle"))?;
        let mut command = Command::new(self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(data_dir)
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
        self.user.apply(&mut command);
        Ok(command)
    }
}

/// `pg_isready` says the server on 127.0.0.1:`port` accepts connections (exit 0; 1 is
/// "rejecting", as while starting up, 2 is "no response").
fn accepts_connections(bin_dir: &Path, port: u16) -> bool {
    Command::new(client_program(bin_dir, "pg_isready"))
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-t",
            "2",
        ])
        .arg("-p")
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
