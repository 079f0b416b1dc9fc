//! Rendering: the 200 body in the contract's key order, and the canonical form
//! `{"by_currency":…,"by_tag":…}` (keys sorted at every level, no whitespace) whose
//! SHA-256 is the `digest`. Keys are ASCII (currency codes and tags of `[a-z0-9_-]`), so
//! nothing needs escaping; groups come in byte order of their keys.

use sha2::{Digest, Sha256};

use super::stats::Stats;

/// Appends the decimal digits of `value`.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buffer = [0u8; 20];
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buffer[at..]);
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: u64) {
    out.extend_from_slice(name);
    push_u64(out, value);
}

/// `{"count":…,"sum":…,"min":…,"max":…,"mean":…,"p50":…,"p95":…,"p99":…}`.
pub fn push_stats_response(out: &mut Vec<u8>, s: &Stats) {
    push_field(out, b"{\"count\":", s.count);
    push_field(out, b",\"sum\":", s.sum);
    push_field(out, b",\"min\":", s.min);
    push_field(out, b",\"max\":", s.max);
    push_field(out, b",\"mean\":", s.mean);
    push_field(out, b",\"p50\":", s.p50);
    push_field(out, b",\"p95\":", s.p95);
    push_field(out, b",\"p99\":", s.p99);
    out.push(b'}');
}

/// The same stats with keys sorted: count, max, mean, min, p50, p95, p99, sum.
pub fn push_stats_canonical(out: &mut Vec<u8>, s: &Stats) {
    push_field(out, b"{\"count\":", s.count);
    push_field(out, b",\"max\":", s.max);
    push_field(out, b",\"mean\":", s.mean);
    push_field(out, b",\"min\":", s.min);
    push_field(out, b",\"p50\":", s.p50);
    push_field(out, b",\"p95\":", s.p95);
    push_field(out, b",\"p99\":", s.p99);
    push_field(out, b",\"sum\":", s.sum);
    out.push(b'}');
}

/// `{"key":<stats>,…}` in the given (sorted) order.
pub fn push_groups<'k>(
    out: &mut Vec<u8>,
    groups: impl Iterator<Item = (&'k [u8], &'k Stats)>,
    render: fn(&mut Vec<u8>, &Stats),
) {
    out.push(b'{');
    for (index, (key, stats)) in groups.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":");
        render(out, stats);
    }
    out.push(b'}');
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = Sha256::digest(bytes);
    let mut out = [0u8; 64];
    for (index, byte) in hash.iter().enumerate() {
        out[2 * index] = HEX[usize::from(byte >> 4)];
        out[2 * index + 1] = HEX[usize::from(byte & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        for value in [0u64, 7, 10, 99, 1_000_000_000, 10_000_000_000_000, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
    }

    #[test]
    fn sha256_of_the_empty_canonical_form() {
        // printf '%s' '{"by_currency":{},"by_tag":{}}' | sha256sum
        let hex = sha256_hex(br#"{"by_currency":{},"by_tag":{}}"#);
        assert_eq!(
            std::str::from_utf8(&hex).unwrap(),
            "a013cd91aaa3e14a392dfdf250196257e5668206022d80fbaa0066a559122b52"
        );
    }
}
