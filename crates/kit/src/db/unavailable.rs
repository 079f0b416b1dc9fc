//! What "the database is unavailable" means: ONE classifier for both drivers (SQLx for
//! the pool, tokio-postgres for the pipelined reads), so that a failure is a 503 or a 500
//! whichever path met it.
//!
//! Unavailable (a 503 the client may retry soon): the connection is gone or cannot be
//! made, the server is shutting down or starting, out of connections (53300), or a
//! statement ran past its timeout (57014: the server is overloaded or a lock is held).
//! Anything else the server answers is a bug in our query or data (a 500).

/// Whether a SQLSTATE means unavailability rather than a bug.
pub fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin or crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "57014" // query canceled: statement_timeout
}

/// A driver error that can say whether the database is unavailable.
pub trait Unavailability {
    fn is_unavailable(&self) -> bool;
}

impl Unavailability for sqlx::Error {
    fn is_unavailable(&self) -> bool {
        match self {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(database) => database
                .code()
                .is_some_and(|code| is_unavailable_sqlstate(&code)),
            _ => false,
        }
    }
}

#[cfg(feature = "pipelined")]
impl Unavailability for tokio_postgres::Error {
    fn is_unavailable(&self) -> bool {
        // A closed connection, or one that failed at the socket, has no SQLSTATE.
        if self.is_closed() {
            return true;
        }
        match self.code() {
            Some(state) => is_unavailable_sqlstate(state.code()),
            None => {
                std::error::Error::source(self).is_some_and(|source| source.is::<std::io::Error>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlstates_of_a_server_that_cannot_answer_are_unavailable() {
        for code in [
            "08000", "08006", "08P01", "57P01", "57P03", "53300", "57014",
        ] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        // Our bugs or the client's data: unique violation, syntax, undefined column,
        // out of memory (53200 is not a connection limit), serialization failure.
        for code in ["23505", "42601", "42703", "53200", "40001", "22P02"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn pool_failures_are_unavailable_and_a_missing_row_is_not() {
        assert!(sqlx::Error::PoolTimedOut.is_unavailable());
        assert!(sqlx::Error::PoolClosed.is_unavailable());
        assert!(!sqlx::Error::RowNotFound.is_unavailable());
    }
}
