//! One request as the shadow replays or mirrors it: the same bytes go to every target; only
//! `Host` and the per-target headers differ.

use bytes::Bytes;

/// A request read from a source file or received by the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowRequest {
    /// Upper-case method, such as `GET`.
    pub method: String,
    /// Path and query in origin form: `/users/7?x=1`.
    pub path: String,
    /// Headers in their original order and spelling (no `Host`: each target gets its own,
    /// unless `--keep-host` sends [`ShadowRequest::host`]).
    pub headers: Vec<(String, String)>,
    /// The `Host` the request was made for, when the source says.
    pub host: Option<String>,
    pub body: Bytes,
    /// The route template the source gives (`/users/{id}`), overriding the guessed one.
    pub template: Option<String>,
    /// Where it came from, for messages: a line number, or an entry number for HAR.
    pub origin: usize,
}

impl ShadowRequest {
    /// A bodiless request with no headers.
    pub fn new(method: &str, path: &str, origin: usize) -> ShadowRequest {
        ShadowRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            headers: Vec::new(),
            host: None,
            body: Bytes::new(),
            template: None,
            origin,
        }
    }

    /// POST, PUT, PATCH and DELETE change state: mirroring them needs `--allow-writes`.
    pub fn is_write(&self) -> bool {
        is_write_method(&self.method)
    }
}

/// Whether `method` changes state on the server.
pub fn is_write_method(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// The origin form of `url`: `http://host:8080/a?b` gives `("host:8080", "/a?b")`; a path
/// gives no host.
pub fn origin_form(url: &str) -> (Option<&str>, String) {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let split = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(split);
            let path = if path.starts_with('?') {
                format!("/{path}")
            } else if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            };
            (Some(authority), path)
        }
        None => (None, url.to_string()),
    }
}

/// Whether `method` looks like an HTTP method token (upper-case letters).
pub fn is_method_token(method: &str) -> bool {
    !method.is_empty() && method.len() <= 16 && method.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_origin_form() {
        assert_eq!(
            origin_form("http://h:1/a?b"),
            (Some("h:1"), "/a?b".to_string())
        );
        assert_eq!(origin_form("https://h"), (Some("h"), "/".to_string()));
        assert_eq!(origin_form("https://h?q"), (Some("h"), "/?q".to_string()));
        assert_eq!(origin_form("/x"), (None, "/x".to_string()));
    }
}
