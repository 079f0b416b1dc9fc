//! The token of an `Authorization: Bearer <token>` header value.

/// The token, or `None` when no bearer token was sent: no header value, not UTF-8,
/// another scheme, or `Bearer` with nothing after it. The scheme is case-insensitive;
/// white space around the token is dropped.
pub fn bearer_token(value: &[u8]) -> Option<&str> {
    // Bytes, then UTF-8: `HeaderValue::to_str` checks each byte on its own and was a
    // tenth of a cached read's cost (callgrind); a token with control characters still
    // fails its signature check.
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn reads_the_token_of_the_bearer_scheme_only() {
        assert_eq!(bearer_token(b"Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token(b"bearer  abc "), Some("abc"));
        for none in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Basic abc",
            b"Bearer \xff",
            b"Bearerabc",
        ] {
            assert_eq!(bearer_token(none), None, "{none:?}");
        }
    }
}
