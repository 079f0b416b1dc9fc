//! Field checks of one record, in the contract's order (mirrors `recordError` of the Node
//! baseline). The parser (`parse.rs`) feeds each field's last value (JSON.parse keeps the
//! last of duplicate keys) through these.

/// The first failing check of a record names its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    Record,
    UserId,
    AmountCents,
    Currency,
    Tags,
    Ts,
}

impl RecordError {
    pub fn message(self) -> &'static str {
        match self {
            RecordError::Record => "invalid record",
            RecordError::UserId => "invalid user_id",
            RecordError::AmountCents => "invalid amount_cents",
            RecordError::Currency => "invalid currency",
            RecordError::Tags => "invalid tags",
            RecordError::Ts => "invalid ts",
        }
    }
}

pub const MAX_AMOUNT: u32 = 1_000_000_000;
pub const MAX_TAGS: usize = 8;

/// 8-4-4-4-12 hex digits, either case.
pub fn is_hyphenated_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// Three ASCII capital letters.
pub fn currency(text: &str) -> Option<[u8; 3]> {
    match *text.as_bytes() {
        [a, b, c] if a.is_ascii_uppercase() && b.is_ascii_uppercase() && c.is_ascii_uppercase() => {
            Some([a, b, c])
        }
        _ => None,
    }
}

/// `^[a-z0-9_-]{1,32}$`.
pub fn is_tag(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// `amount_cents` from the text of a JSON number token (already checked against the
/// JSON grammar): read into the nearest double as JSON.parse does (too large → infinity,
/// too small → ±0), then valid when finite, whole and in 0..=1e9. `-0` is 0.
pub fn amount(token: &str) -> Option<u32> {
    let bytes = token.as_bytes();
    // Fast path: plain digits (at most 10, so no overflow and exact).
    if bytes.len() <= 10 && bytes.iter().all(u8::is_ascii_digit) {
        let mut value = 0u64;
        for &byte in bytes {
            value = value * 10 + u64::from(byte - b'0');
        }
        return (value <= u64::from(MAX_AMOUNT)).then_some(value as u32);
    }
    let value: f64 = token.parse().ok()?;
    // NaN and ±inf fail the range check; the range check makes the cast exact.
    if value >= 0.0 && value <= f64::from(MAX_AMOUNT) && value.fract() == 0.0 {
        Some(value as u32)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_double() {
        for (token, expected) in [
            ("0", Some(0)),
            ("5", Some(5)),
            ("5.0", Some(5)),
            ("5e2", Some(500)),
            ("5E+2", Some(500)),
            ("50e-1", Some(5)),
            ("500.0000000000000001", Some(500)),
            ("-0", Some(0)),
            ("-0.0", Some(0)),
            ("-0e10", Some(0)),
            ("1e-400", Some(0)),
            ("-1e-400", Some(0)),
            ("1000000000", Some(1_000_000_000)),
            ("1e9", Some(1_000_000_000)),
            ("1000000000.00000001", Some(1_000_000_000)),
            ("1000000000.0000002", None),
            ("1000000001", None),
            ("9999999999", None),
            ("99999999999999999999", None),
            ("5.5", None),
            ("0.1", None),
            ("-1", None),
            ("-0.5", None),
            ("1e400", None),
            ("-1e400", None),
        ] {
            assert_eq!(amount(token), expected, "{token}");
        }
    }

    #[test]
    fn tags_currencies_and_ids() {
        assert!(is_tag("a"));
        assert!(is_tag("a-b_c0"));
        assert!(is_tag(&"x".repeat(32)));
        assert!(!is_tag(&"x".repeat(33)));
        assert!(!is_tag(""));
        assert!(!is_tag("A"));
        assert!(!is_tag("a b"));
        assert!(!is_tag("é"));
        assert_eq!(currency("EUR"), Some(*b"EUR"));
        assert_eq!(currency("eur"), None);
        assert_eq!(currency("EURO"), None);
        assert_eq!(currency("ÉU"), None);
        assert!(is_hyphenated_uuid("0192f0c1-8a2b-7c3d-8e4f-00000000000A"));
        assert!(!is_hyphenated_uuid("0192f0c18a2b7c3d8e4f000000000001"));
        assert!(!is_hyphenated_uuid(
            "{0192f0c1-8a2b-7c3d-8e4f-000000000001}"
        ));
        assert!(!is_hyphenated_uuid("0192f0c1-8a2b-7c3d-8e4f-00000000000g"));
    }
}
