//! The `/api/v1/process` body parser: never panics, and on the JSON that serde_json
//! reads it agrees with serde_json. (The converse does not hold by design: the parser
//! reads as JavaScript's JSON.parse, which also takes lone surrogate escapes, numbers
//! past f64 and any nesting depth; see `parsing::process::parse`.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsing::process::MAX_RECORDS;
use parsing::process::parse::{Parser, TopLevel};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = Parser::new(text).body();
    let Ok(reference) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let ours = match ours {
        Ok(top) => top,
        Err(_) => panic!("serde_json reads this JSON but the parser calls it a syntax error"),
    };
    match (&reference, ours) {
        (Value::Object(members), TopLevel::Object(batch)) => {
            // Duplicate keys: the last one wins, in both.
            match (members.get("records"), batch) {
                (Some(Value::Array(records)), Some(batch)) => {
                    assert_eq!(batch.records, records.len(), "record count");
                    if records.len() <= MAX_RECORDS {
                        let valid: usize = batch.by_currency.values().map(Vec::len).sum();
                        assert_eq!(valid + batch.invalid_count, records.len());
                        let not_objects =
                            records.iter().filter(|record| !record.is_object()).count();
                        assert!(
                            batch.invalid_count >= not_objects,
                            "a non-object is invalid"
                        );
                    }
                }
                (Some(Value::Array(_)), None) => panic!("a records array was not found"),
                (_, Some(_)) => panic!("a batch without a records array"),
                (_, None) => {}
            }
        }
        (Value::Object(_), TopLevel::NotAnObject) => panic!("an object read as not an object"),
        (_, TopLevel::Object(_)) => panic!("a non-object read as an object"),
        (_, TopLevel::NotAnObject) => {}
    }
});
