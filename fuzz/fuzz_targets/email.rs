//! Email parsing: never panics; what it accepts is within the contract's length, and
//! accepting it again gives the same email.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsing::email::Email;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(email) = Email::parse(text) {
        let stored = email.as_str();
        assert!(!stored.is_empty() && stored.len() <= 254, "{stored:?}");
        assert!(stored.is_ascii(), "{stored:?}");
        assert_eq!(stored.matches('@').count(), 1, "{stored:?}");
        assert_eq!(Email::parse(stored).as_ref(), Some(&email), "idempotent");
    }
});
