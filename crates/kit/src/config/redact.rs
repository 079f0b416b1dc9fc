//! `Debug` of the settings that hold secrets in plain strings (database URLs with
//! passwords), so that logging the settings leaks nothing. (The JWT secret is a
//! [`super::Secret`].)

use super::DatabaseSettings;

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let DatabaseSettings {
            url,
            read_url,
            pool_size,
            read_connections,
            read_queue_depth,
            read_hedge_ms,
            acquire_timeout_ms,
            statement_timeout_ms,
            idle_in_transaction_timeout_ms,
            query_timeout_ms,
            data_dir,
            migrate_on_start,
        } = self;
        f.debug_struct("DatabaseSettings")
            .field("url", &url.as_deref().map(without_password))
            .field("read_url", &read_url.as_deref().map(without_password))
            .field("pool_size", pool_size)
            .field("read_connections", read_connections)
            .field("read_queue_depth", read_queue_depth)
            .field("read_hedge_ms", read_hedge_ms)
            .field("acquire_timeout_ms", acquire_timeout_ms)
            .field("statement_timeout_ms", statement_timeout_ms)
            .field(
                "idle_in_transaction_timeout_ms",
                idle_in_transaction_timeout_ms,
            )
            .field("query_timeout_ms", query_timeout_ms)
            .field("data_dir", data_dir)
            .field("migrate_on_start", migrate_on_start)
            .finish()
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:<redacted>@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The credentials end at the last `@` before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:<redacted>{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
