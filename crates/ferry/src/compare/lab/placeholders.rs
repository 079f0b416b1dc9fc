//! `{name}` placeholders in lab values. A placeholder is `{` a name `}` where the name is made
//! of letters, digits, `_`, `-` and `.` and starts with a letter or `_`; anything else between
//! braces (JSON such as `{"a":1}` or `{"a:b":1}`) is text, and so is `${NAME}` (a shell
//! variable in a `sh -c` script).
//!
//! A name may carry one argument after a `:`, made of the same characters: `{kind:argument}`.
//! The one such form a lab may use is `{database_url:NAME}` ([`database_name`]); the lab check
//! refuses every other, so that a typo is not sent as text.

use std::collections::{BTreeMap, BTreeSet};

/// The names of the placeholders in `text`, in order of appearance.
pub fn names(text: &str) -> Vec<&str> {
    spans(text).map(|(_, name)| name).collect()
}

/// `text` with every placeholder found in `values` replaced; others are left as they are.
pub fn expand(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, name) in spans(text) {
        if let Some(value) = values.get(name) {
            out.push_str(&text[copied..start]);
            out.push_str(value);
            copied = start + name.len() + 2;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The first placeholder of `text` that is not in `known`.
pub fn first_unknown<'a>(text: &'a str, known: &BTreeSet<String>) -> Option<&'a str> {
    names(text).into_iter().find(|name| !known.contains(*name))
}

/// The prefix of `{database_url:NAME}`: a database of its own on the lab's server.
pub const DATABASE_URL_OF: &str = "database_url";

/// Names `{database_url:NAME}` may not take: the server's own databases and pgbench's.
pub const RESERVED_DATABASES: [&str; 4] = ["postgres", "template0", "template1", "ferry_pgbench"];

/// `(kind, argument)` of a placeholder name with an argument, such as `database_url:a`.
pub fn argument(name: &str) -> Option<(&str, &str)> {
    name.split_once(':')
}

/// The database a `{database_url:NAME}` placeholder names, when `name` is of that form.
pub fn database_name(name: &str) -> Option<&str> {
    argument(name)
        .filter(|(kind, _)| *kind == DATABASE_URL_OF)
        .map(|(_, database)| database)
}

/// Whether `name` may be a `{database_url:NAME}` database: `[a-z_][a-z0-9_]{0,62}` (a
/// PostgreSQL identifier that needs no quoting and is not cut at 63 bytes), and none of
/// [`RESERVED_DATABASES`].
pub fn valid_database_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    starts
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED_DATABASES.contains(&name)
}

/// A name without an argument: a letter or `_`, then letters, digits, `_`, `-` and `.`.
fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `(byte offset of '{', name)` of every placeholder.
fn spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    text.match_indices('{').filter_map(move |(start, _)| {
        if start > 0 && bytes[start - 1] == b'$' {
            return None;
        }
        let rest = &text[start + 1..];
        let end = rest.find('}')?;
        let name = &rest[..end];
        let valid = match argument(name) {
            // The argument may start with a digit or be upper case: `{database_url:1}` is
            // then found, and refused by the lab check, instead of being sent as text.
            Some((kind, argument)) => {
                is_plain(kind)
                    && !argument.is_empty()
                    && argument
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            }
            None => is_plain(name),
        };
        valid.then_some((start, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_skip_json_and_shell_variables() {
        assert_eq!(
            names(r#"{"email":"ferry-{uuid}@x"} {port} ${PORT} {a.b-c_1} {} {1x}"#),
            ["uuid", "port", "a.b-c_1"]
        );
    }

    #[test]
    fn names_with_an_argument_are_found_and_json_keys_are_not() {
        assert_eq!(
            names(r#"{database_url:a} {"a:b":1} {a:b} {x:Y-1} {a:} {:b} {a:b:c} {a: b}"#),
            ["database_url:a", "a:b", "x:Y-1"]
        );
        let values = BTreeMap::from([("database_url:a".to_string(), "postgres:///a".to_string())]);
        assert_eq!(
            expand("{database_url:a} {database_url}", &values),
            "postgres:///a {database_url}"
        );
        assert_eq!(database_name("database_url:a"), Some("a"));
        assert_eq!(database_name("a:b"), None);
        assert_eq!(database_name("database_url"), None);
    }

    #[test]
    fn database_names_are_lower_case_identifiers_and_not_the_servers_own() {
        for good in ["a", "_x", "users_1", &"a".repeat(63)] {
            assert!(valid_database_name(good), "{good}");
        }
        for bad in [
            "",
            "Postgres",
            "1a",
            "a-b",
            "a.b",
            "postgres",
            "template0",
            "template1",
            "ferry_pgbench",
            &"a".repeat(64),
        ] {
            assert!(!valid_database_name(bad), "{bad}");
        }
    }

    #[test]
    fn expand_replaces_known_names_only() {
        let values = BTreeMap::from([("port".to_string(), "8080".to_string())]);
        assert_eq!(
            expand("http://h:{port}/users/{id}?p={port}", &values),
            "http://h:8080/users/{id}?p=8080"
        );
        let known = BTreeSet::from(["port".to_string()]);
        assert_eq!(first_unknown("{port} {nope}", &known), Some("nope"));
        assert_eq!(first_unknown("{port}", &known), None);
    }
}
