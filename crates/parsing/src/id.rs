//! An id in the only form the contract accepts in a path or a body: hyphenated
//! 8-4-4-4-12 hex digits, either case (no braces, `urn:uuid:`, or bare hex).

/// The id in `text`, if it has the hyphenated form.
pub fn parse_hyphenated_uuid(text: &str) -> Option<uuid::Uuid> {
    // At 36 bytes, `uuid` accepts only the hyphenated form (braced is 38, URN 45,
    // simple 32), checking hyphen positions and digits in one pass.
    if text.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_hyphenated_uuid;

    #[test]
    fn accepts_only_the_hyphenated_form() {
        assert!(parse_hyphenated_uuid("0192f0c1-8a2b-7c3d-8e4f-000000000001").is_some());
        assert!(parse_hyphenated_uuid("0192F0C1-8A2B-7C3D-8E4F-00000000000A").is_some());
        for bad in [
            "",
            "0192f0c18a2b7c3d8e4f000000000001",
            "{0192f0c1-8a2b-7c3d-8e4f-000000000001}",
            "urn:uuid:0192f0c1-8a2b-7c3d-8e4f-000000000001",
            "0192f0c1-8a2b-7c3d-8e4f-00000000000g",
            "0192f0c1-8a2b-7c3d-8e4f-0000000000011",
            "0192f0c1+8a2b-7c3d-8e4f-000000000001",
            "../../etc/passwd",
        ] {
            assert!(
                parse_hyphenated_uuid(bad).is_none(),
                "{bad:?} must be rejected"
            );
        }
    }
}
