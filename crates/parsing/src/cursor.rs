//! The list cursor: opaque to clients, base64url (no padding) of
//! `<created_at RFC 3339 ms>|<id>` of the last item of a page. The Node baseline issues
//! and reads the same form, so a cursor from one works on the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::id::parse_hyphenated_uuid;

/// `2026-11-28T12:34:56.789Z`: UTC, `Z`, exactly three fraction digits (the contract's
/// shared rendering of instants; the database keeps milliseconds).
pub fn format_millis(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A position in the newest-first order of (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", format_millis(&self.created_at), self.id))
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = std::str::from_utf8(&raw).ok()?;
        let (created_at, id) = raw.split_once('|')?;
        let cursor = Cursor {
            created_at: DateTime::parse_from_rfc3339(created_at)
                .ok()?
                .with_timezone(&Utc),
            id: parse_hyphenated_uuid(id)?,
        };
        // Only the exact form we issue: a cursor is ours, not something to construct.
        (cursor.encode() == text).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: Utc
                .timestamp_millis_opt(1_764_330_000_123)
                .single()
                .expect("in range"),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        let no_millis = URL_SAFE_NO_PAD.encode(format!("2026-01-01T00:00:00Z|{}", cursor.id));
        let bad_id = URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00.000Z|nope");
        for bad in ["", "!!!", "bm9waXBl", bad_id.as_str(), no_millis.as_str()] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }
}
