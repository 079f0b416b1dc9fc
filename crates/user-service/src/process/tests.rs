//! Unit tests of the whole computation, body in, body out.

use super::{BodyError, process_body};

const ID: &str = "0192f0c1-8a2b-7c3d-8e4f-000000000001";

fn run(body: &str) -> Result<String, BodyError> {
    process_body(body.as_bytes()).map(|out| String::from_utf8(out).unwrap())
}

fn record(amount: &str, currency: &str, tags: &str) -> String {
    format!(
        r#"{{"user_id":"{ID}","amount_cents":{amount},"currency":"{currency}","tags":{tags},"ts":"2024-02-29T12:00:00Z"}}"#
    )
}

fn batch(records: &[String]) -> String {
    format!(r#"{{"records":[{}]}}"#, records.join(","))
}

/// The `invalid` array of a 200 body.
fn invalid(out: &str) -> &str {
    let start = out.find("\"invalid\":").unwrap() + 10;
    let end = out.find(",\"by_currency\"").unwrap();
    &out[start..end]
}

#[test]
fn empty_result_digest() {
    let out = run(r#"{"records":[1]}"#).unwrap();
    assert_eq!(
        out,
        r#"{"records":1,"valid":0,"invalid":[{"index":0,"error":"invalid record"}],"by_currency":{},"by_tag":{},"digest":"a013cd91aaa3e14a392dfdf250196257e5668206022d80fbaa0066a559122b52"}"#
    );
}

#[test]
fn one_valid_record() {
    let out = run(&batch(&[record("5.0", "EUR", r#"["b","a","b"]"#)])).unwrap();
    let stats = r#"{"count":1,"sum":5,"min":5,"max":5,"mean":5,"p50":5,"p95":5,"p99":5}"#;
    assert!(out.starts_with(&format!(
        r#"{{"records":1,"valid":1,"invalid":[],"by_currency":{{"EUR":{stats}}},"by_tag":{{"a":{stats},"b":{stats}}},"digest":""#
    )));
}

#[test]
fn body_errors() {
    for (body, error) in [
        ("", BodyError::InvalidJson),
        ("{", BodyError::InvalidJson),
        (r#"{"records":[1,]}"#, BodyError::InvalidJson),
        (r#"{"records":[01]}"#, BodyError::InvalidJson),
        (r#"{"records":[1]} x"#, BodyError::InvalidJson),
        (r#"{"records":["\x"]}"#, BodyError::InvalidJson),
        ("{\"records\":[\"\u{1}\"]}", BodyError::InvalidJson),
        ("\u{feff}{\"records\":[1]}", BodyError::InvalidJson),
        (r#"{"records":[NaN]}"#, BodyError::InvalidJson),
        (r#"{"records":[-]}"#, BodyError::InvalidJson),
        (r#"{"records":[1.]}"#, BodyError::InvalidJson),
        (r#"{"records":[1e]}"#, BodyError::InvalidJson),
        (r#"{"records":[tru]}"#, BodyError::InvalidJson),
        ("[]", BodyError::NotAnObject),
        ("null", BodyError::NotAnObject),
        (r#""records""#, BodyError::NotAnObject),
        ("{}", BodyError::RecordsRequired),
        (r#"{"records":[]}"#, BodyError::RecordsRequired),
        (r#"{"records":{}}"#, BodyError::RecordsRequired),
        (
            r#"{"records":[1],"records":null}"#,
            BodyError::RecordsRequired,
        ),
        (r#"{"Records":[1]}"#, BodyError::RecordsRequired),
    ] {
        assert_eq!(run(body), Err(error), "{body:?}");
    }
    assert_eq!(
        process_body(b"{\"records\":[\"\xff\"]}"),
        Err(BodyError::InvalidJson)
    );
    let many = format!(r#"{{"records":[{}1]}}"#, "1,".repeat(10_000));
    assert_eq!(run(&many), Err(BodyError::TooManyRecords));
    let enough = format!(r#"{{"records":[{}1]}}"#, "1,".repeat(9_999));
    assert!(run(&enough).is_ok());
}

#[test]
fn first_failing_field_names_the_error() {
    let out = run(&batch(&[
        "{}".into(),
        r#"{"user_id":"x"}"#.into(),
        format!(r#"{{"user_id":"{ID}"}}"#),
        format!(r#"{{"user_id":"{ID}","amount_cents":5}}"#),
        format!(r#"{{"user_id":"{ID}","amount_cents":5,"currency":"EUR"}}"#),
        format!(r#"{{"user_id":"{ID}","amount_cents":5,"currency":"EUR","tags":[]}}"#),
        format!(r#"{{"ts":"x","tags":1,"currency":"eur","amount_cents":"5","user_id":"{ID}"}}"#),
        "[]".into(),
        "null".into(),
        r#""s""#.into(),
    ]))
    .unwrap();
    assert_eq!(
        invalid(&out),
        r#"[{"index":0,"error":"invalid user_id"},{"index":1,"error":"invalid user_id"},{"index":2,"error":"invalid amount_cents"},{"index":3,"error":"invalid currency"},{"index":4,"error":"invalid tags"},{"index":5,"error":"invalid ts"},{"index":6,"error":"invalid amount_cents"},{"index":7,"error":"invalid record"},{"index":8,"error":"invalid record"},{"index":9,"error":"invalid record"}]"#
    );
}

#[test]
fn amounts_as_json_parse_reads_them() {
    let out = run(&batch(&[
        record("5e2", "EUR", "[]"),
        record("-0", "EUR", "[]"),
        record("1e-400", "EUR", "[]"),
        record("500.0000000000000001", "EUR", "[]"),
        record("1e400", "EUR", "[]"),
        record("5.5", "EUR", "[]"),
        record("null", "EUR", "[]"),
        record("true", "EUR", "[]"),
        record("-1", "EUR", "[]"),
        record("1000000001", "EUR", "[]"),
    ]))
    .unwrap();
    assert!(out.contains(r#""valid":4,"#), "{out}");
    assert!(out.contains(r#""EUR":{"count":4,"sum":1000,"min":0,"max":500,"mean":250,"#));
    assert_eq!(
        invalid(&out),
        r#"[{"index":4,"error":"invalid amount_cents"},{"index":5,"error":"invalid amount_cents"},{"index":6,"error":"invalid amount_cents"},{"index":7,"error":"invalid amount_cents"},{"index":8,"error":"invalid amount_cents"},{"index":9,"error":"invalid amount_cents"}]"#
    );
}

#[test]
fn tags_rules() {
    let out = run(&batch(&[
        record("1", "EUR", r#"["a","b","c","d","e","f","g","h"]"#),
        record("1", "EUR", r#"["a","b","c","d","e","f","g","h","i"]"#),
        record("1", "EUR", r#"["A"]"#),
        record("1", "EUR", r#"[""]"#),
        record("1", "EUR", r#"[1]"#),
        record("1", "EUR", r#""a""#),
        record("1", "EUR", r#"null"#),
        record("1", "EUR", r#"["\u0061","a"]"#),
        record("1", "EUR", &format!(r#"["{}"]"#, "x".repeat(33))),
    ]))
    .unwrap();
    assert_eq!(
        invalid(&out),
        r#"[{"index":1,"error":"invalid tags"},{"index":2,"error":"invalid tags"},{"index":3,"error":"invalid tags"},{"index":4,"error":"invalid tags"},{"index":5,"error":"invalid tags"},{"index":6,"error":"invalid tags"},{"index":8,"error":"invalid tags"}]"#
    );
    // "\u0061" is "a": the record counts once for a.
    assert!(out.contains(r#""by_tag":{"a":{"count":2,"#), "{out}");
}

#[test]
fn invalid_list_is_capped_but_counted() {
    let records: Vec<String> = (0..250).map(|_| "1".to_string()).collect();
    let out = run(&batch(&records)).unwrap();
    assert!(out.starts_with(r#"{"records":250,"valid":0,"#));
    assert_eq!(invalid(&out).matches("index").count(), 100);
    assert!(invalid(&out).ends_with(r#"{"index":99,"error":"invalid record"}]"#));
}

#[test]
fn last_duplicate_key_wins() {
    let out = run(&format!(
        r#"{{"records":[{{"user_id":"x","user_id":"{ID}","amount_cents":"1","amount_cents":7,"currency":"EUR","tags":[1],"tags":["z"],"ts":"2024-02-29T12:00:00Z"}}]}}"#
    ))
    .unwrap();
    assert!(out.contains(r#""valid":1,"#), "{out}");
    assert!(
        out.contains(r#""by_tag":{"z":{"count":1,"sum":7,"#),
        "{out}"
    );
    let out = run(&format!(
        r#"{{"records":[{}],"records":[{},1]}}"#,
        record("1", "EUR", "[]"),
        record("2", "USD", "[]")
    ))
    .unwrap();
    assert!(out.starts_with(r#"{"records":2,"valid":1,"#), "{out}");
    assert!(out.contains(r#""by_currency":{"USD":"#), "{out}");
}

#[test]
fn json_parse_leniencies() {
    // Lone surrogates are accepted by JSON.parse (and fail the ASCII checks); deep
    // nesting is accepted; escaped keys are their decoded text.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let out = run(&format!(
        r#"{{"x":"\ud800","records":[{deep},{{"user_\u0069d":"{ID}","currency":"\ud83d\ude00"}}]}}"#
    ))
    .unwrap();
    assert_eq!(
        invalid(&out),
        r#"[{"index":0,"error":"invalid record"},{"index":1,"error":"invalid amount_cents"}]"#
    );
    let out = run(" \t\r\n{ \"records\" : [ 1 ] } \n").unwrap();
    assert!(out.starts_with(r#"{"records":1,"#));
}

#[test]
fn groups_sorted_by_bytes() {
    let out = run(&batch(&[
        record("1", "USD", r#"["9","10","_","-","a"]"#),
        record("3", "EUR", r#"["a"]"#),
    ]))
    .unwrap();
    let tags_at = |tag: &str| out.find(&format!("\"{tag}\":{{")).unwrap();
    assert!(out.find("\"EUR\"").unwrap() < out.find("\"USD\"").unwrap());
    assert!(tags_at("-") < tags_at("10"));
    assert!(tags_at("10") < tags_at("9"));
    assert!(tags_at("9") < tags_at("_"));
    assert!(tags_at("_") < tags_at("a"));
}
