//! Id parsing: the path/body parser (`parsing::id`) and the `/process` record check
//! (`parsing::process::record`) accept the same texts, and an accepted id renders back
//! as its text (up to case).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsing::id::parse_hyphenated_uuid;
use parsing::process::record::is_hyphenated_uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_hyphenated_uuid(text);
    assert_eq!(parsed.is_some(), is_hyphenated_uuid(text), "{text:?}");
    if let Some(id) = parsed {
        assert!(
            id.hyphenated().to_string().eq_ignore_ascii_case(text),
            "{text:?}"
        );
    }
});
