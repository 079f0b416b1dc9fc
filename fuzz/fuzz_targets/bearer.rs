//! The bearer header: never panics; a token found is non-empty, trimmed, and follows a
//! case-insensitive `Bearer ` scheme.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsing::bearer::bearer_token;

fuzz_target!(|data: &[u8]| {
    if let Some(token) = bearer_token(data) {
        assert!(!token.is_empty());
        assert_eq!(token, token.trim());
        assert!(data.len() > 7 && data[..7].eq_ignore_ascii_case(b"bearer "));
    }
});
