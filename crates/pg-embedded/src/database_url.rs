//! PostgreSQL URLs that differ only in the database they name.

/// `url` with its database name replaced by `database` (added when it has none); the
/// user, host, port and query parameters are kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_and_path = &base[scheme_end..];
    let authority = host_and_path
        .split_once('/')
        .map_or(host_and_path, |(authority, _)| authority);
    let mut out = format!("{}{authority}/{database}", &base[..scheme_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5/app?sslmode=disable", "bench"),
            "postgres://u@h:5/bench?sslmode=disable"
        );
    }

    #[test]
    fn adds_a_database_to_a_url_without_one() {
        assert_eq!(
            with_database("postgres://u@h:5", "bench"),
            "postgres://u@h:5/bench"
        );
        assert_eq!(
            with_database("postgres://u@h:5?sslmode=disable", "bench"),
            "postgres://u@h:5/bench?sslmode=disable"
        );
    }
}
