//! List cursor decoding: never panics, and accepts only what it would issue.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsing::cursor::Cursor;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cursor) = Cursor::decode(text) {
        assert_eq!(cursor.encode(), text, "only the exact form we issue");
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }
});
