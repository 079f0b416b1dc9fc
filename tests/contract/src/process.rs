//! `POST /api/v1/process`: the record rules, the stats, the digest, the bounds; checked
//! against an independent reference computation written from docs/contract.md.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Target;
use crate::http::{Reply, post};
use crate::json::{Ordered, is_hyphenated_uuid};

// ---------------------------------------------------------------- the reference

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Valid {
        currency: String,
        amount: u64,
        tags: Vec<String>,
    },
    Invalid(&'static str),
}

fn valid_amount(value: Option<&Value>) -> Option<u64> {
    let number = value?.as_f64()?;
    (number.is_finite() && number.fract() == 0.0 && (0.0..=1_000_000_000.0).contains(&number))
        .then_some(number as u64)
}

fn valid_currency(value: Option<&Value>) -> Option<String> {
    let text = value?.as_str()?;
    (text.len() == 3 && text.bytes().all(|byte| byte.is_ascii_uppercase())).then(|| text.into())
}

fn valid_tag(tag: &str) -> bool {
    (1..=32).contains(&tag.len())
        && tag.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        })
}

fn valid_tags(value: Option<&Value>) -> Option<Vec<String>> {
    let items = value?.as_array()?;
    if items.len() > 8 {
        return None;
    }
    items
        .iter()
        .map(|item| {
            item.as_str()
                .filter(|tag| valid_tag(tag))
                .map(str::to_string)
        })
        .collect()
}

/// The contract's strict RFC 3339 profile.
pub fn valid_ts(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let slice = bytes.get(from..to)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(slice).ok()?.parse().ok()
    };
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0, 4),
        digits(5, 7),
        digits(8, 10),
        digits(11, 13),
        digits(14, 16),
        digits(17, 19),
    ) else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day < 1 || day > days || hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    let mut rest = &bytes[19..];
    if rest.first() == Some(&b'.') {
        let count = rest[1..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if !(1..=9).contains(&count) {
            return false;
        }
        rest = &rest[1 + count..];
    }
    match rest {
        [b'Z'] => true,
        [sign, h1, h2, b':', m1, m2]
            if (*sign == b'+' || *sign == b'-')
                && [h1, h2, m1, m2].iter().all(|byte| byte.is_ascii_digit()) =>
        {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            hours <= 23 && minutes <= 59
        }
        _ => false,
    }
}

pub fn judge(record: &Value) -> Verdict {
    let Some(object) = record.as_object() else {
        return Verdict::Invalid("invalid record");
    };
    if !object
        .get("user_id")
        .and_then(Value::as_str)
        .is_some_and(is_hyphenated_uuid)
    {
        return Verdict::Invalid("invalid user_id");
    }
    let Some(amount) = valid_amount(object.get("amount_cents")) else {
        return Verdict::Invalid("invalid amount_cents");
    };
    let Some(currency) = valid_currency(object.get("currency")) else {
        return Verdict::Invalid("invalid currency");
    };
    let Some(tags) = valid_tags(object.get("tags")) else {
        return Verdict::Invalid("invalid tags");
    };
    if !object
        .get("ts")
        .and_then(Value::as_str)
        .is_some_and(valid_ts)
    {
        return Verdict::Invalid("invalid ts");
    }
    Verdict::Valid {
        currency,
        amount,
        tags,
    }
}

/// `<stats>` of a non-empty list of amounts.
pub fn stats(amounts: &[u64]) -> Value {
    let mut sorted = amounts.to_vec();
    sorted.sort_unstable();
    let count = sorted.len() as u64;
    let sum: u64 = sorted.iter().sum();
    let rank = |q: u64| sorted[(q * count).div_ceil(100) as usize - 1];
    json!({
        "count": count, "sum": sum, "min": sorted[0], "max": sorted[sorted.len() - 1],
        "mean": sum / count, "p50": rank(50), "p95": rank(95), "p99": rank(99),
    })
}

pub fn digest_of(by_currency: &Value, by_tag: &Value) -> String {
    // serde_json's map is sorted and `to_string` writes no white space: canonical.
    let canonical = json!({"by_currency": by_currency, "by_tag": by_tag}).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The whole expected 200 body (as a value; member order is checked separately).
pub fn expected(records: &[Value]) -> Value {
    let mut invalid = Vec::new();
    let mut invalid_count = 0;
    let mut by_currency: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut by_tag: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        match judge(record) {
            Verdict::Invalid(error) => {
                invalid_count += 1;
                if invalid.len() < 100 {
                    invalid.push(json!({"index": index, "error": error}));
                }
            }
            Verdict::Valid {
                currency,
                amount,
                mut tags,
            } => {
                by_currency.entry(currency).or_default().push(amount);
                tags.sort();
                tags.dedup();
                for tag in tags {
                    by_tag.entry(tag).or_default().push(amount);
                }
            }
        }
    }
    let to_stats = |groups: BTreeMap<String, Vec<u64>>| -> Value {
        Value::Object(
            groups
                .into_iter()
                .map(|(key, amounts)| (key, stats(&amounts)))
                .collect(),
        )
    };
    let by_currency = to_stats(by_currency);
    let by_tag = to_stats(by_tag);
    let digest = digest_of(&by_currency, &by_tag);
    json!({
        "records": records.len(), "valid": records.len() - invalid_count, "invalid": invalid,
        "by_currency": by_currency, "by_tag": by_tag, "digest": digest,
    })
}

// ---------------------------------------------------------------- checking a response

const TOP_KEYS: [&str; 6] = [
    "records",
    "valid",
    "invalid",
    "by_currency",
    "by_tag",
    "digest",
];
const STATS_KEYS: [&str; 8] = ["count", "sum", "min", "max", "mean", "p50", "p95", "p99"];

/// Member order, integer rendering and the digest of a 200 body.
pub fn assert_shape(reply: &Reply) -> Value {
    reply.assert_status(200).assert_json_type();
    let ordered = Ordered::parse(&reply.body)
        .unwrap_or_else(|error| panic!("{}: not JSON: {error}", reply.context()));
    assert_eq!(
        ordered.keys(),
        TOP_KEYS,
        "{}: members of the response, in order",
        reply.context()
    );
    for map in ["by_currency", "by_tag"] {
        let value = ordered.get(map).expect("present");
        assert!(
            matches!(value, Ordered::Object(_)),
            "{}: {map} is an object",
            reply.context()
        );
        let keys = value.keys();
        assert!(
            keys.windows(2)
                .all(|pair| pair[0].as_bytes() < pair[1].as_bytes()),
            "{}: {map} keys are sorted (byte order) and distinct: {keys:?}",
            reply.context()
        );
        for (key, stats) in value.members() {
            assert_eq!(
                stats.keys(),
                STATS_KEYS,
                "{}: {map}.{key} members in order",
                reply.context()
            );
            for (name, number) in stats.members() {
                assert!(
                    matches!(number, Ordered::Number(n) if n.is_u64()),
                    "{}: {map}.{key}.{name} must be a non-negative integer without fraction, got {number:?}",
                    reply.context()
                );
            }
        }
    }
    if let Some(Ordered::Array(items)) = ordered.get("invalid") {
        for item in items {
            assert_eq!(
                item.keys(),
                ["index", "error"],
                "{}: invalid entries are {{index, error}}",
                reply.context()
            );
        }
    }
    let body = reply.json();
    let digest = digest_of(&body["by_currency"], &body["by_tag"]);
    assert_eq!(
        body["digest"].as_str(),
        Some(digest.as_str()),
        "{}: digest must be the SHA-256 of the canonical JSON of by_currency and by_tag",
        reply.context()
    );
    let records = body["records"].as_u64().unwrap_or(0);
    let valid = body["valid"].as_u64().unwrap_or(0);
    let listed = body["invalid"].as_array().map(Vec::len).unwrap_or(0) as u64;
    assert!(
        valid + listed <= records && (listed == 100 || valid + listed == records),
        "{}: valid + invalid = records (list cut at 100)",
        reply.context()
    );
    body
}

pub async fn send(target: &Target, body: impl Into<Vec<u8>>) -> Reply {
    post(target, "/api/v1/process").raw_json(body).send().await
}

/// Posts `records` (as given, byte for byte) and compares with the reference.
pub async fn check_batch(target: &Target, body: String, what: &str) -> Value {
    let parsed: Value = serde_json::from_str(&body).expect("the suite sends JSON");
    let records = parsed["records"]
        .as_array()
        .expect("a records array")
        .clone();
    let reply = send(target, body).await;
    let got = assert_shape(&reply);
    let want = expected(&records);
    if got != want {
        let mut diffs = Vec::new();
        for key in TOP_KEYS {
            if got[key] != want[key] {
                diffs.push(format!(
                    "{key}: got {} want {}",
                    crate::http::truncate(&got[key].to_string(), 800),
                    crate::http::truncate(&want[key].to_string(), 800)
                ));
            }
        }
        panic!(
            "[{}] process {what}: response differs from the contract's result:\n{}",
            target.name,
            diffs.join("\n")
        );
    }
    got
}

// ---------------------------------------------------------------- records

pub const UID: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

/// A valid record with the given amount text, currency and tags (JSON texts).
pub fn record(amount: &str, currency: &str, tags: &str) -> String {
    format!(
        r#"{{"user_id":"{UID}","amount_cents":{amount},"currency":"{currency}","tags":{tags},"ts":"2024-05-06T07:08:09Z"}}"#
    )
}

pub fn batch(records: &[String]) -> String {
    format!(r#"{{"records":[{}]}}"#, records.join(","))
}

// ---------------------------------------------------------------- checks

pub async fn process_example_batch_exact(target: &Target) {
    let body = batch(&[
        record("100", "EUR", r#"["a","b"]"#),
        record("300", "EUR", r#"["a"]"#),
        record("5.0", "USD", "[]"),
        record("5.5", "USD", "[]"),
        record("5e2", "EUR", r#"["b","b"]"#),
        r#""x""#.to_string(),
    ]);
    let got = check_batch(target, body, "example batch").await;
    let by_currency = json!({
        "EUR": {"count":3,"sum":900,"min":100,"max":500,"mean":300,"p50":300,"p95":500,"p99":500},
        "USD": {"count":1,"sum":5,"min":5,"max":5,"mean":5,"p50":5,"p95":5,"p99":5},
    });
    let by_tag = json!({
        "a": {"count":2,"sum":400,"min":100,"max":300,"mean":200,"p50":100,"p95":300,"p99":300},
        "b": {"count":2,"sum":600,"min":100,"max":500,"mean":300,"p50":100,"p95":500,"p99":500},
    });
    assert_eq!(
        got,
        json!({
            "records": 6, "valid": 4,
            "invalid": [{"index":3,"error":"invalid amount_cents"},{"index":5,"error":"invalid record"}],
            "by_currency": by_currency, "by_tag": by_tag, "digest": digest_of(&by_currency, &by_tag),
        }),
        "[{}] process example batch",
        target.name
    );
}

/// A record and the error it must give, `None` when valid.
type FieldCase = (String, Option<&'static str>);

/// (record JSON, expected error or None when valid)
pub fn field_cases() -> Vec<FieldCase> {
    let mut cases = Vec::new();
    cases.extend(user_id_cases());
    cases.extend(amount_cases());
    cases.extend(currency_cases());
    cases.extend(tags_cases());
    cases.extend(ts_cases());
    for not_object in ["1", r#""x""#, "null", "[]", "true", r#"[{"user_id":"x"}]"#] {
        cases.push((not_object.to_string(), Some("invalid record")));
    }
    cases
}

/// The example record with `field` set to `value` (JSON text), or removed for `<missing>`.
fn with_field(field: &str, value: &str) -> String {
    let mut base: serde_json::Map<String, Value> =
        serde_json::from_str(&record("1", "EUR", "[]")).expect("json");
    base.remove(field);
    let mut text = serde_json::to_string(&base).expect("json");
    if value != "<missing>" {
        text.pop();
        text.push_str(&format!(r#","{field}":{value}}}"#));
    }
    text
}

/// One case per value: the record with `field` set to it, and the `error` it must give.
fn cases_of(field: &str, values: &[&str], error: Option<&'static str>) -> Vec<FieldCase> {
    values
        .iter()
        .map(|value| (with_field(field, value), error))
        .collect()
}

/// `user_id`: a hyphenated UUID in either case, nothing else.
fn user_id_cases() -> Vec<FieldCase> {
    let mut cases = cases_of(
        "user_id",
        &[
            r#""6BA7B810-9DAD-11D1-80B4-00C04FD430C8""#,
            r#""6ba7b810-9DAD-11d1-80b4-00c04fd430c8""#,
        ],
        None,
    );
    cases.extend(cases_of(
        "user_id",
        &[
            "<missing>",
            "null",
            "12",
            r#""""#,
            r#""{6ba7b810-9dad-11d1-80b4-00c04fd430c8}""#,
            r#""urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8""#,
            r#""6ba7b8109dad11d180b400c04fd430c8""#,
            r#""6ba7b810-9dad-11d1-80b4-00c04fd430c8a""#,
            r#""6ba7b810-9dad-11d1-80b4-00c04fd430cg""#,
            r#""6ba7b810-9dad-11d1-80b4-00c04fd430c""#,
            r#"["6ba7b810-9dad-11d1-80b4-00c04fd430c8"]"#,
        ],
        Some("invalid user_id"),
    ));
    cases
}

/// `amount_cents`: a whole number from 0 to 10⁹, in any JSON spelling.
fn amount_cases() -> Vec<FieldCase> {
    let mut cases = cases_of(
        "amount_cents",
        &[
            "0",
            "1000000000",
            "5.0",
            "5e2",
            "5E2",
            "1e9",
            "-0",
            "500.0000000000000001",
            "0.0",
            "100e-2",
        ],
        None,
    );
    cases.extend(cases_of(
        "amount_cents",
        &[
            "<missing>",
            "null",
            r#""5""#,
            "-1",
            "1000000001",
            "5.5",
            "1e10",
            "0.5",
            "-0.5",
            "true",
            "[]",
            "{}",
            "1000000000.5",
            "-1e-300",
        ],
        Some("invalid amount_cents"),
    ));
    cases
}

/// `currency`: three upper-case ASCII letters.
fn currency_cases() -> Vec<FieldCase> {
    let mut cases = cases_of("currency", &[r#""ZZZ""#], None);
    cases.extend(cases_of(
        "currency",
        &[
            "<missing>",
            "null",
            "1",
            r#""eur""#,
            r#""EU""#,
            r#""EURO""#,
            r#""E1R""#,
            r#""EUR ""#,
            r#""ÉUR""#,
            r#"["EUR"]"#,
            r#""Eur""#,
        ],
        Some("invalid currency"),
    ));
    cases
}

/// `tags`: up to 8 tags of 1 to 32 of `a-z0-9_-`.
fn tags_cases() -> Vec<FieldCase> {
    let mut cases = cases_of(
        "tags",
        &[
            "[]",
            r#"["a"]"#,
            r#"["a","a","b"]"#,
            r#"["0123456789abcdefghijklmnopqrstuv"]"#,
            r#"["a","b","c","d","e","f","g","h"]"#,
            r#"["a_b-c","9"]"#,
        ],
        None,
    );
    cases.extend(cases_of(
        "tags",
        &[
            "<missing>",
            "null",
            r#""a""#,
            r#"[1]"#,
            r#"["A"]"#,
            r#"[""]"#,
            r#"["0123456789abcdefghijklmnopqrstuvw"]"#,
            r#"["a","b","c","d","e","f","g","h","i"]"#,
            r#"["a b"]"#,
            r#"[null]"#,
            r#"{"a":1}"#,
            r#"["é"]"#,
            r#"["a."]"#,
        ],
        Some("invalid tags"),
    ));
    cases
}

/// `ts`: the contract's strict RFC 3339 profile, real dates only.
fn ts_cases() -> Vec<FieldCase> {
    let mut cases = cases_of(
        "ts",
        &[
            r#""2024-02-29T00:00:00Z""#,
            r#""2000-02-29T23:59:59Z""#,
            r#""2024-01-01T00:00:00.1Z""#,
            r#""2024-01-01T00:00:00.123456789Z""#,
            r#""2024-01-01T00:00:00+23:59""#,
            r#""2024-01-01T00:00:00-00:00""#,
            r#""2024-12-31T23:59:59.000+05:30""#,
            r#""1999-04-30T12:00:00Z""#,
        ],
        None,
    );
    cases.extend(cases_of(
        "ts",
        &[
            "<missing>",
            "null",
            "1714980000",
            r#""""#,
            r#""2023-02-29T00:00:00Z""#,
            r#""1900-02-29T00:00:00Z""#,
            r#""2024-02-30T00:00:00Z""#,
            r#""2024-04-31T00:00:00Z""#,
            r#""2024-13-01T00:00:00Z""#,
            r#""2024-00-01T00:00:00Z""#,
            r#""2024-01-00T00:00:00Z""#,
            r#""2024-01-01t00:00:00Z""#,
            r#""2024-01-01T00:00:00z""#,
            r#""2024-01-01 00:00:00Z""#,
            r#""2024-01-01T24:00:00Z""#,
            r#""2024-01-01T23:60:00Z""#,
            r#""2024-12-31T23:59:60Z""#,
            r#""2024-01-01T00:00:00""#,
            r#""2024-01-01T00:00:00.Z""#,
            r#""2024-01-01T00:00:00.1234567890Z""#,
            r#""2024-01-01T00:00:00+24:00""#,
            r#""2024-01-01T00:00:00+00:60""#,
            r#""2024-01-01T00:00:00+0100""#,
            r#""2024-01-01T00:00Z""#,
            r#""24-01-01T00:00:00Z""#,
            r#""2024-1-01T00:00:00Z""#,
            r#""2024-01-01T00:00:00Z ""#,
            r#""2024-01-01T00:00:00+01""#,
            r#""2024-01-01T00:00:00,5Z""#,
            r#""２024-01-01T00:00:00Z""#,
            r#""2024-01-01T00:00:00.5+01:00Z""#,
            r#""2024-01-01""#,
        ],
        Some("invalid ts"),
    ));
    cases
}

pub async fn process_field_rules(target: &Target) {
    let cases = field_cases();
    assert!(cases.len() < 200);
    // In two batches so that no list is cut at 100.
    for chunk in cases.chunks(90) {
        let records: Vec<String> = chunk.iter().map(|(text, _)| text.clone()).collect();
        let reply = send(target, batch(&records)).await;
        let body = assert_shape(&reply);
        let listed: BTreeMap<u64, String> = body["invalid"]
            .as_array()
            .expect("invalid list")
            .iter()
            .map(|item| {
                (
                    item["index"].as_u64().unwrap_or(u64::MAX),
                    item["error"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let mut problems = Vec::new();
        for (index, (text, want)) in chunk.iter().enumerate() {
            let got = listed.get(&(index as u64)).map(String::as_str);
            if got != *want {
                problems.push(format!(
                    "  record {text}: expected {}, got {}",
                    want.unwrap_or("valid"),
                    got.unwrap_or("valid")
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "[{}] process field rules, records judged against docs/contract.md wrongly:\n{}",
            target.name,
            problems.join("\n")
        );
        // And the whole result agrees with the reference (stats of the valid ones).
        let parsed: Value = serde_json::from_str(&batch(&records)).expect("json");
        assert_eq!(
            body,
            expected(parsed["records"].as_array().expect("records")),
            "[{}] field rules batch",
            target.name
        );
    }
}

pub async fn process_first_failing_field_names_the_error(target: &Target) {
    let records = vec![
        r#"{"amount_cents":-1,"currency":"x","tags":1,"ts":"x"}"#.to_string(),
        format!(r#"{{"user_id":"{UID}","currency":"x","tags":1,"ts":"x"}}"#),
        format!(r#"{{"user_id":"{UID}","amount_cents":1,"tags":1,"ts":"x"}}"#),
        format!(r#"{{"user_id":"{UID}","amount_cents":1,"currency":"EUR","ts":"x"}}"#),
        format!(r#"{{"user_id":"{UID}","amount_cents":1,"currency":"EUR","tags":[]}}"#),
        format!(r#"{{"ts":"x","tags":1,"currency":"x","amount_cents":1.5,"user_id":"{UID}"}}"#),
        "{}".to_string(),
        format!(
            r#"{{"user_id":"{UID}","amount_cents":1,"currency":"EUR","tags":[],"ts":"2024-01-01T00:00:00Z","extra":{{"deep":[1,2]}}}}"#
        ),
    ];
    let reply = send(target, batch(&records)).await;
    let body = assert_shape(&reply);
    assert_eq!(
        body["invalid"],
        json!([
            {"index":0,"error":"invalid user_id"}, {"index":1,"error":"invalid amount_cents"},
            {"index":2,"error":"invalid currency"}, {"index":3,"error":"invalid tags"},
            {"index":4,"error":"invalid ts"}, {"index":5,"error":"invalid amount_cents"},
            {"index":6,"error":"invalid user_id"},
        ]),
        "{}: the first failing field, in the contract's order, names the error",
        reply.context()
    );
    assert_eq!(
        body["valid"],
        1,
        "{}: other fields are ignored",
        reply.context()
    );
}

pub async fn process_invalid_list_capped_at_100(target: &Target) {
    let records: Vec<String> = (0..300)
        .map(|index| {
            if index % 3 == 0 {
                record(&index.to_string(), "EUR", r#"["t"]"#)
            } else {
                record("-1", "EUR", "[]")
            }
        })
        .collect();
    let body = check_batch(target, batch(&records), "300 records, 200 invalid").await;
    let invalid = body["invalid"].as_array().expect("list");
    assert_eq!(
        invalid.len(),
        100,
        "[{}] the invalid list is cut at 100",
        target.name
    );
    let indexes: Vec<u64> = invalid
        .iter()
        .map(|item| item["index"].as_u64().expect("index"))
        .collect();
    let want: Vec<u64> = (0..300u64)
        .filter(|index| index % 3 != 0)
        .take(100)
        .collect();
    assert_eq!(
        indexes, want,
        "[{}] the first 100 invalid records, in index order",
        target.name
    );
    assert_eq!(body["valid"], 100);
    assert_eq!(body["records"], 300);
}

pub async fn process_stats_nearest_rank_and_floor_mean(target: &Target) {
    let mut records = Vec::new();
    // EUR: 1..=100 in a scrambled order.
    for step in 0..100u64 {
        records.push(record(&((step * 37) % 100 + 1).to_string(), "EUR", "[]"));
    }
    for amount in ["1", "2"] {
        records.push(record(amount, "GBP", "[]"));
    }
    records.push(record("7", "JPY", "[]"));
    for amount in [100, 90, 80, 70, 60, 50, 40, 30, 20, 10] {
        records.push(record(&amount.to_string(), "CHF", "[]"));
    }
    for amount in ["1000000000", "1000000000", "999999999"] {
        records.push(record(amount, "USD", "[]"));
    }
    let body = check_batch(target, batch(&records), "stats").await;
    let want = json!({
        "EUR": {"count":100,"sum":5050,"min":1,"max":100,"mean":50,"p50":50,"p95":95,"p99":99},
        "GBP": {"count":2,"sum":3,"min":1,"max":2,"mean":1,"p50":1,"p95":2,"p99":2},
        "JPY": {"count":1,"sum":7,"min":7,"max":7,"mean":7,"p50":7,"p95":7,"p99":7},
        "CHF": {"count":10,"sum":550,"min":10,"max":100,"mean":55,"p50":50,"p95":100,"p99":100},
        "USD": {"count":3,"sum":2999999999u64,"min":999999999,"max":1000000000,"mean":999999999,"p50":1000000000,"p95":1000000000,"p99":1000000000},
    });
    assert_eq!(
        body["by_currency"], want,
        "[{}] nearest-rank percentiles and floor mean",
        target.name
    );
}

pub async fn process_tags_count_once_and_sort_bytewise(target: &Target) {
    let body = check_batch(
        target,
        batch(&[
            record("10", "ZZZ", r#"["a","a","b"]"#),
            record(
                "20",
                "AAA",
                r#"["9","10","_","-","z","0","__proto__","constructor"]"#,
            ),
            record("30", "EUR", r#"["tostring","hasownproperty","a"]"#),
        ]),
        "tags",
    )
    .await;
    assert_eq!(
        body["by_tag"]["a"]["count"], 2,
        "[{}] a record counts once per distinct tag",
        target.name
    );
    assert_eq!(
        body["by_tag"]["a"]["sum"], 40,
        "[{}] tag a sum",
        target.name
    );
    assert_eq!(body["by_tag"]["b"]["count"], 1);
    assert_eq!(
        body["by_tag"]["__proto__"]["sum"], 20,
        "[{}] a tag named __proto__ is just a key",
        target.name
    );
}

pub async fn process_no_valid_records(target: &Target) {
    let body = check_batch(
        target,
        batch(&[record("-5", "EUR", "[]"), "7".into()]),
        "no valid record",
    )
    .await;
    assert_eq!(body["by_currency"], json!({}));
    assert_eq!(body["by_tag"], json!({}));
    assert_eq!(
        body["digest"].as_str(),
        Some(hex::encode(Sha256::digest(br#"{"by_currency":{},"by_tag":{}}"#)).as_str()),
        "[{}] the digest of no valid records",
        target.name
    );
    assert_eq!(body["valid"], 0);
}

pub async fn process_huge_number_is_an_invalid_amount(target: &Target) {
    let body = batch(&[
        record("1e400", "EUR", "[]"),
        record("-1e400", "EUR", "[]"),
        record("123456789012345678901234567890", "EUR", "[]"),
        record("1e-400", "EUR", "[]"),
        record("3", "EUR", "[]"),
    ]);
    let reply = send(target, body).await;
    let got = assert_shape(&reply);
    assert_eq!(
        got["invalid"],
        json!([
            {"index":0,"error":"invalid amount_cents"}, {"index":1,"error":"invalid amount_cents"},
            {"index":2,"error":"invalid amount_cents"},
        ]),
        "{}: a number too large for a double is an invalid amount (1e-400 reads as 0, valid)",
        reply.context()
    );
    assert_eq!(got["by_currency"]["EUR"]["sum"], 3, "{}", reply.context());
    assert_eq!(got["by_currency"]["EUR"]["min"], 0, "{}", reply.context());
}

pub async fn process_bad_bodies_are_400(target: &Target) {
    for body in ["[]", "1", "\"records\"", "null", r#"[{"records":[1]}]"#] {
        let reply = send(target, body).await;
        reply.assert_error(400, "Body must be a JSON object");
    }
    for body in [
        "{}",
        r#"{"records":null}"#,
        r#"{"records":{}}"#,
        r#"{"records":"x"}"#,
        r#"{"records":1}"#,
        r#"{"records":[]}"#,
        r#"{"Records":[1]}"#,
    ] {
        let reply = send(target, body).await;
        reply.assert_some_error(400);
    }
    for body in ["{", r#"{"records":[1,]}"#, "", "{\"records\":[1]} 2"] {
        let reply = send(target, body).await;
        reply.assert_error(400, "Invalid JSON body");
    }
}

pub async fn process_record_count_limits(target: &Target) {
    let one = record("1", "EUR", r#"["x"]"#);
    let full = batch(&vec![one.clone(); 10_000]);
    let reply = send(target, full).await;
    let body = assert_shape(&reply);
    assert_eq!(body["records"], 10_000, "{}", reply.context());
    assert_eq!(body["valid"], 10_000, "{}", reply.context());
    let reply = send(target, batch(&vec![one.clone(); 10_001])).await;
    reply.assert_some_error(413);
    // The count is of elements, valid or not.
    let reply = send(target, batch(&vec!["0".to_string(); 10_001])).await;
    reply.assert_some_error(413);
}

pub async fn process_body_limits(target: &Target) {
    // 1 MiB: over the users limit, well within 8 MiB.
    let pad = "p".repeat(1024 * 1024);
    let body = format!(
        r#"{{"records":[{}],"pad":"{pad}"}}"#,
        record("1", "EUR", "[]")
    );
    let reply = send(target, body).await;
    assert_shape(&reply);
    // 8 MiB + 1 byte.
    let prefix = r#"{"records":[1],"pad":""#;
    let pad = "p".repeat(8 * 1024 * 1024 + 1 - prefix.len() - 2);
    let body = format!(r#"{prefix}{pad}"}}"#);
    assert_eq!(body.len(), 8 * 1024 * 1024 + 1);
    // Raw TCP: a server may answer 413 and close before reading the whole body.
    let mut request = format!(
        "POST /api/v1/process HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        target.authority(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    let reply = crate::http::raw(target, &request, std::time::Duration::from_secs(20)).await;
    crate::http::assert_raw_error(
        &format!("[{}] POST /api/v1/process with 8 MiB + 1 byte", target.name),
        &reply,
        413,
        "Payload too large",
    );
}

// ---------------------------------------------------------------- generated batches

/// splitmix64: a tiny seeded generator, the same on every platform and version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn gen_uuid(rng: &mut Rng) -> String {
    let hex = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    if rng.chance(10) {
        text.to_uppercase()
    } else {
        text
    }
}

fn gen_amount(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => rng.below(10).to_string(),
        1..=4 => rng.below(10_000).to_string(),
        5 | 6 => rng.below(1_000_000_001).to_string(),
        7 => format!("{}.0", rng.below(100_000)),
        8 => format!("{}e{}", rng.below(1000), rng.below(7)),
        9 => rng
            .pick(&[
                "0",
                "1000000000",
                "-0",
                "1e9",
                "500.0000000000000001",
                "2.50e1",
            ])
            .to_string(),
        _ => rng.below(500).to_string(),
    }
}

const CURRENCIES: [&str; 6] = ["EUR", "USD", "GBP", "JPY", "CHF", "ZAR"];
const TAGS: [&str; 14] = [
    "a",
    "b",
    "vip",
    "10",
    "9",
    "__proto__",
    "constructor",
    "x-y",
    "z_9",
    "-",
    "_",
    "abcdefghijklmnopqrstuvwxyz012345",
    "tostring",
    "0",
];

fn gen_tags(rng: &mut Rng) -> String {
    let count = rng.below(9);
    let tags: Vec<String> = (0..count)
        .map(|_| format!("\"{}\"", rng.pick(&TAGS)))
        .collect();
    format!("[{}]", tags.join(","))
}

fn gen_ts(rng: &mut Rng) -> String {
    let year = 1970 + rng.below(100);
    let month = 1 + rng.below(12);
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let day = 1 + rng.below(days);
    let fraction = match rng.below(4) {
        0 => String::new(),
        _ => {
            let digits = 1 + rng.below(9) as usize;
            format!(".{}", &format!("{:09}", rng.below(1_000_000_000))[..digits])
        }
    };
    let offset = match rng.below(3) {
        0 => "Z".to_string(),
        _ => format!(
            "{}{:02}:{:02}",
            if rng.chance(50) { '+' } else { '-' },
            rng.below(24),
            rng.below(60)
        ),
    };
    format!(
        "\"{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}{offset}\"",
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

const BAD_USER_IDS: [&str; 7] = [
    "null",
    "7",
    r#""""#,
    r#""6ba7b8109dad11d180b400c04fd430c8""#,
    r#""{6ba7b810-9dad-11d1-80b4-00c04fd430c8}""#,
    r#""6ba7b810-9dad-11d1-80b4-00c04fd430cz""#,
    r#""urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8""#,
];
const BAD_AMOUNTS: [&str; 9] = [
    "-1",
    "1000000001",
    "5.5",
    "null",
    r#""5""#,
    "1e10",
    "0.001",
    "true",
    "-3e2",
];
const BAD_CURRENCIES: [&str; 7] = [
    r#""eur""#,
    r#""EU""#,
    r#""EURO""#,
    "null",
    "978",
    r#""E1R""#,
    r#""ÉUR""#,
];
const BAD_TAGS: [&str; 8] = [
    r#"["A"]"#,
    r#"[""]"#,
    "null",
    r#""a""#,
    r#"[1]"#,
    r#"["a","b","c","d","e","f","g","h","i"]"#,
    r#"["abcdefghijklmnopqrstuvwxyz0123456"]"#,
    r#"["a b"]"#,
];
const BAD_TS: [&str; 9] = [
    r#""2023-02-29T00:00:00Z""#,
    r#""2024-01-01T24:00:00Z""#,
    r#""2024-01-01T00:00:60Z""#,
    r#""2024-01-01t00:00:00Z""#,
    r#""2024-01-01T00:00:00""#,
    r#""2024-01-01T00:00:00.1234567890Z""#,
    r#""2024-01-01T00:00:00+24:00""#,
    "0",
    r#""2024-06-31T00:00:00Z""#,
];

/// One generated record: usually valid, sometimes with one or more bad fields, missing
/// fields, extra fields, or not an object at all.
pub fn gen_record(rng: &mut Rng) -> String {
    if rng.chance(2) {
        return rng.pick(&["1", "\"r\"", "null", "[]", "false"]).to_string();
    }
    let mut fields: Vec<(&str, String)> = vec![
        (
            "user_id",
            if rng.chance(6) {
                rng.pick(&BAD_USER_IDS).to_string()
            } else {
                format!("\"{}\"", gen_uuid(rng))
            },
        ),
        (
            "amount_cents",
            if rng.chance(8) {
                rng.pick(&BAD_AMOUNTS).to_string()
            } else {
                gen_amount(rng)
            },
        ),
        (
            "currency",
            if rng.chance(6) {
                rng.pick(&BAD_CURRENCIES).to_string()
            } else {
                format!("\"{}\"", rng.pick(&CURRENCIES))
            },
        ),
        (
            "tags",
            if rng.chance(6) {
                rng.pick(&BAD_TAGS).to_string()
            } else {
                gen_tags(rng)
            },
        ),
        (
            "ts",
            if rng.chance(6) {
                rng.pick(&BAD_TS).to_string()
            } else {
                gen_ts(rng)
            },
        ),
    ];
    if rng.chance(3) {
        let drop = rng.below(fields.len() as u64) as usize;
        fields.remove(drop);
    }
    if rng.chance(5) {
        fields.push(("note", "{\"x\":[1,2,{\"y\":null}]}".to_string()));
    }
    if rng.chance(10) {
        let len = fields.len() as u64;
        for index in 0..fields.len() {
            let other = rng.below(len) as usize;
            fields.swap(index, other);
        }
    }
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("\"{key}\":{value}"))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// A batch of `count` generated records from `seed`.
pub fn gen_batch(seed: u64, count: usize) -> String {
    let mut rng = Rng::new(seed);
    let records: Vec<String> = (0..count).map(|_| gen_record(&mut rng)).collect();
    batch(&records)
}

/// (seed, size) of the generated batches.
pub const GENERATED: [(u64, usize); 10] = [
    (1, 1),
    (2, 5),
    (3, 40),
    (4, 120),
    (5, 500),
    (6, 1000),
    (7, 2500),
    (8, 64),
    (9, 10_000),
    (10, 333),
];

pub async fn process_generated_batches_match_reference(target: &Target) {
    for (seed, count) in GENERATED {
        check_batch(
            target,
            gen_batch(seed, count),
            &format!("generated batch seed {seed}, {count} records"),
        )
        .await;
    }
}
