//! `user-service process-batch`: the fixed `/api/v1/process` batch a load test sends:
//! deterministic (the same bytes every run, for every implementation under comparison),
//! mostly valid, with one record in ten invalid in a rotating field so that the validation
//! paths are exercised too.

use std::fmt::Write;

/// A `{"records": [...]}` body of `count` records.
pub fn process_batch(count: usize) -> String {
    let currencies = ["EUR", "USD", "GBP", "JPY", "CHF"];
    let tags = [
        r#"[]"#,
        r#"["a"]"#,
        r#"["vip","eu-west"]"#,
        r#"["x_1","y-2","z3"]"#,
    ];
    let mut body = String::from(r#"{"records":["#);
    let mut rng = fastrand::Rng::with_seed(0xBA7C);
    for index in 0..count {
        if index > 0 {
            body.push(',');
        }
        let user_id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.u32(..),
            rng.u16(..),
            rng.u16(..0x1000),
            rng.u16(..0x1000),
            rng.u64(..1 << 48)
        );
        let amount = rng.u64(0..=1_000_000);
        let currency = currencies[index % currencies.len()];
        let tag = tags[index % tags.len()];
        let ts = format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            1 + index % 12,
            1 + index % 28,
            index % 24,
            index % 60,
            (index * 7) % 60
        );
        let _ = match (index % 10 == 9, index % 40) {
            (true, 9) => write!(
                body,
                r#"{{"user_id":"not-a-uuid","amount_cents":{amount},"currency":"{currency}","tags":{tag},"ts":"{ts}"}}"#
            ),
            (true, 19) => write!(
                body,
                r#"{{"user_id":"{user_id}","amount_cents":{amount}.5,"currency":"{currency}","tags":{tag},"ts":"{ts}"}}"#
            ),
            (true, 29) => write!(
                body,
                r#"{{"user_id":"{user_id}","amount_cents":{amount},"currency":"eur","tags":{tag},"ts":"{ts}"}}"#
            ),
            (true, _) => write!(
                body,
                r#"{{"user_id":"{user_id}","amount_cents":{amount},"currency":"{currency}","tags":{tag},"ts":"2024-02-30T00:00:00Z"}}"#
            ),
            (false, _) => write!(
                body,
                r#"{{"user_id":"{user_id}","amount_cents":{amount},"currency":"{currency}","tags":{tag},"ts":"{ts}"}}"#
            ),
        };
    }
    body.push_str("]}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_is_deterministic_json_with_some_invalid_records() {
        let body = process_batch(100);
        assert_eq!(body, process_batch(100));
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let records = parsed["records"].as_array().unwrap();
        assert_eq!(records.len(), 100);
        assert!(records.iter().any(|r| r["user_id"] == "not-a-uuid"));
        assert!(records.iter().any(|r| r["currency"] == "eur"));
    }
}
