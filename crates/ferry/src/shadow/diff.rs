//! Comparing two responses field by field. Field names and kinds are fixed (scripts rely on
//! them): `status`, `header.<lower-case name>`, `body` for a non-JSON body and `body.<path>`
//! for JSON, with `.key` for members and `[]` for array elements; kinds `value`, `type`,
//! `missing`, `extra`, `length` and `order`. A field differing in several places of one
//! response (two array elements) counts once, with its first kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::response::{Captured, CapturedBody};

/// How a field differs from the primary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    /// Same type, another value (or other bytes, for a non-JSON body).
    Value,
    /// Another JSON type (string instead of number, JSON instead of text).
    Type,
    /// The primary has it, the other response not.
    Missing,
    /// The other response has it, the primary not.
    Extra,
    /// Arrays of different lengths.
    Length,
    /// The same array elements in another order.
    Order,
}

impl DiffKind {
    pub fn name(self) -> &'static str {
        match self {
            DiffKind::Value => "value",
            DiffKind::Type => "type",
            DiffKind::Missing => "missing",
            DiffKind::Extra => "extra",
            DiffKind::Length => "length",
            DiffKind::Order => "order",
        }
    }
}

/// The differing fields of one comparison, each with its first kind.
pub type Differences = BTreeMap<String, DiffKind>;

/// Every difference of `other` against `primary`.
pub fn differences(primary: &Captured, other: &Captured) -> Differences {
    let mut out = Differences::new();
    if primary.status != other.status {
        out.insert("status".to_string(), DiffKind::Value);
    }
    compare_headers(primary, other, &mut out);
    compare_bodies(&primary.body, &other.body, &mut out);
    out
}

fn compare_headers(primary: &Captured, other: &Captured, out: &mut Differences) {
    let left = primary.header_map();
    let right = other.header_map();
    for (name, value) in &left {
        match right.get(name) {
            None => note(out, format!("header.{name}"), DiffKind::Missing),
            Some(other_value) if other_value != value => {
                note(out, format!("header.{name}"), DiffKind::Value);
            }
            Some(_) => {}
        }
    }
    for name in right.keys().filter(|name| !left.contains_key(*name)) {
        note(out, format!("header.{name}"), DiffKind::Extra);
    }
}

fn compare_bodies(primary: &CapturedBody, other: &CapturedBody, out: &mut Differences) {
    match (primary, other) {
        (CapturedBody::Held(left), CapturedBody::Held(right)) => {
            if left == right {
                return;
            }
            let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).ok();
            match (parse(left), parse(right)) {
                (Some(left), Some(right)) => {
                    let mut path = String::from("body");
                    compare_json(&mut path, &left, &right, out);
                    // Same JSON, other bytes (spacing, key order): the bytes are not compared.
                }
                (None, None) => note(out, "body".to_string(), DiffKind::Value),
                _ => note(out, "body".to_string(), DiffKind::Type),
            }
        }
        // Over the limit on either side: the digests of the whole bodies decide.
        (left, right) => {
            if left.digest() != right.digest() {
                note(out, "body".to_string(), DiffKind::Value);
            }
        }
    }
}

/// Compares two JSON values under `path` (which it restores before returning).
fn compare_json(path: &mut String, left: &Value, right: &Value, out: &mut Differences) {
    let mark = path.len();
    match (left, right) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in left {
                path.push('.');
                path.push_str(key);
                match right.get(key) {
                    Some(other) => compare_json(path, value, other, out),
                    None => note(out, path.clone(), DiffKind::Missing),
                }
                path.truncate(mark);
            }
            for key in right.keys().filter(|key| !left.contains_key(*key)) {
                note(out, format!("{path}.{key}"), DiffKind::Extra);
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            if left.len() != right.len() {
                note(out, path.clone(), DiffKind::Length);
            } else if left != right {
                if same_elements(left, right) {
                    note(out, path.clone(), DiffKind::Order);
                } else {
                    path.push_str("[]");
                    for (value, other) in left.iter().zip(right) {
                        compare_json(path, value, other, out);
                    }
                    path.truncate(mark);
                }
            }
        }
        (left, right) if std::mem::discriminant(left) == std::mem::discriminant(right) => {
            if left != right {
                note(out, path.clone(), DiffKind::Value);
            }
        }
        _ => note(out, path.clone(), DiffKind::Type),
    }
}

/// Whether two arrays hold the same elements, counted, in any order.
fn same_elements(left: &[Value], right: &[Value]) -> bool {
    let canonical = |values: &[Value]| {
        let mut texts: Vec<String> = values.iter().map(Value::to_string).collect();
        texts.sort_unstable();
        texts
    };
    canonical(left) == canonical(right)
}

/// Keeps the first kind seen for a field.
fn note(out: &mut Differences, field: String, kind: DiffKind) {
    out.entry(field).or_insert(kind);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn json(status: u16, body: &str) -> Captured {
        Captured::held(
            status,
            vec![("content-type".into(), "application/json".into())],
            Bytes::from(body.to_string()),
        )
    }

    fn fields(differences: &Differences) -> Vec<(&str, &str)> {
        differences
            .iter()
            .map(|(field, kind)| (field.as_str(), kind.name()))
            .collect()
    }

    #[test]
    fn json_fields_by_path_and_kind() {
        let primary = json(
            200,
            r#"{"id": 1, "email": "a@x", "tags": ["a", "b"], "items": [{"email": "p"}, {"email": "q"}], "n": 1, "gone": true, "list": [1]}"#,
        );
        let candidate = json(
            201,
            r#"{"id": "1", "email": "b@x", "tags": ["b", "a"], "items": [{"email": "p"}, {"email": "r"}], "n": 1, "new": null, "list": [1, 2]}"#,
        );
        assert_eq!(
            fields(&differences(&primary, &candidate)),
            [
                ("body.email", "value"),
                ("body.gone", "missing"),
                ("body.id", "type"),
                ("body.items[].email", "value"),
                ("body.list", "length"),
                ("body.new", "extra"),
                ("body.tags", "order"),
                ("status", "value"),
            ]
        );
        assert!(differences(&primary, &primary).is_empty());
        // Same JSON in other bytes is equal.
        assert!(
            differences(
                &json(200, r#"{"a":1,"b":2}"#),
                &json(200, r#"{ "b": 2, "a": 1 }"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn headers_and_raw_bodies() {
        let primary = Captured::held(
            200,
            vec![("x-a".into(), "1".into()), ("x-gone".into(), "y".into())],
            Bytes::from_static(b"\xff\x00binary"),
        );
        let other = Captured::held(
            200,
            vec![("x-a".into(), "2".into()), ("x-new".into(), "z".into())],
            Bytes::from_static(b"\xff\x00binarY"),
        );
        assert_eq!(
            fields(&differences(&primary, &other)),
            [
                ("body", "value"),
                ("header.x-a", "value"),
                ("header.x-gone", "missing"),
                ("header.x-new", "extra"),
            ]
        );
        let text = Captured::held(
            200,
            vec![("x-a".into(), "1".into()), ("x-gone".into(), "y".into())],
            Bytes::from_static(b"{}"),
        );
        assert_eq!(fields(&differences(&primary, &text)), [("body", "type")]);
    }
}
