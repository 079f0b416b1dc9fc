//! `{name}` placeholders in lab values. A placeholder is `{` a name `}` where the name is made
//! of letters, digits, `_`, `-` and `.` and starts with a letter or `_`; anything else between
//! braces (JSON such as `{"a":1}`) is text, and so is `${NAME}` (a shell variable in a
//! `sh -c` script).

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
        let mut chars = name.chars();
        let first = chars.next()?;
        let valid = (first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
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
