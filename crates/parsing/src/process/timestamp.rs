//! The contract's strict RFC 3339 profile for `ts`:
//! `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1–9 digits, then `Z` or `±HH:MM`;
//! capital `T` and `Z`, ASCII digits only, a real calendar date, hours 00–23, minutes
//! and seconds 00–59 (no leap second), offset hours 00–23 and minutes 00–59.
//!
//! Mirrors `isStrictRfc3339` of the Node baseline (`baselines/node/src/process.js`).

const DAYS: [u8; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// The value of `N` ASCII digits at `at`, or `None` if any is not a digit.
#[inline]
fn digits<const N: usize>(bytes: &[u8], at: usize) -> Option<u32> {
    let mut value = 0u32;
    for &byte in bytes.get(at..at + N)? {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(byte - b'0');
    }
    Some(value)
}

/// Whether `text` is a date-time in the contract's strict profile.
pub fn is_strict_rfc3339(text: &str) -> bool {
    check(text.as_bytes()).is_some()
}

fn check(b: &[u8]) -> Option<()> {
    if b.len() < 20 {
        return None;
    }
    let year = digits::<4>(b, 0)?;
    let month = digits::<2>(b, 5)?;
    let day = digits::<2>(b, 8)?;
    let hour = digits::<2>(b, 11)?;
    let minute = digits::<2>(b, 14)?;
    let second = digits::<2>(b, 17)?;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut at = 19;
    if b[at] == b'.' {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        if !(1..=9).contains(&(at - start)) {
            return None;
        }
    }
    match b.get(at)? {
        b'Z' => {
            if at + 1 != b.len() {
                return None;
            }
        }
        b'+' | b'-' => {
            if at + 6 != b.len() || b[at + 3] != b':' {
                return None;
            }
            let offset_hour = digits::<2>(b, at + 1)?;
            let offset_minute = digits::<2>(b, at + 4)?;
            if offset_hour > 23 || offset_minute > 59 {
                return None;
            }
        }
        _ => return None,
    }
    if !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let days_in_month = if month == 2 && is_leap_year(year) {
        29
    } else {
        u32::from(DAYS[month as usize])
    };
    if day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::is_strict_rfc3339;

    #[test]
    fn accepts_the_profile() {
        for good in [
            "2024-02-29T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "0000-02-29T00:00:00Z",
            "2024-01-31T12:34:56.789Z",
            "2024-01-31T12:34:56.1Z",
            "2024-01-31T12:34:56.123456789Z",
            "2024-01-31T12:34:56+23:59",
            "2024-01-31T12:34:56-00:00",
            "2024-12-31T12:34:56.5+05:30",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(is_strict_rfc3339(good), "{good:?} must be valid");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-13-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-01-01T23:59:60Z",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+23:60",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00ZZ",
            "2024-01-01T00:00:00Z\n",
            "2024-01-01T00:00:00+0000",
            "2024-01-01T00:00:00+00:00:00",
            "24-01-01T00:00:00Z",
            "+2024-01-01T00:00:00Z",
            "2024-1-01T00:00:00Z",
            "2024-01-01T0:00:00Z",
            "２024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.١Z",
        ] {
            assert!(!is_strict_rfc3339(bad), "{bad:?} must be invalid");
        }
    }
}
