//! Why the embedded PostgreSQL could not be started.

use std::io;
use std::path::PathBuf;

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

/// Wraps an I/O error with what was being done.
pub(super) fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let action = action.into();
    move |source| EmbeddedError::Io { action, source }
}
