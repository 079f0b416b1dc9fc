//! Request lines: `METHOD /path` per line, optionally followed by the route template
//! (`GET /users/7 /users/{id}`); blank lines and `#` comments are skipped.

use anyhow::{Result, bail};

use super::super::request::{ShadowRequest, is_method_token, origin_form};
use super::numbered_lines;

pub fn parse_lines(bytes: &[u8]) -> Result<Vec<ShadowRequest>> {
    let mut requests = Vec::new();
    for line in numbered_lines(bytes) {
        let (number, text) = line?;
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        requests.push(parse_request_line(text, number)?);
    }
    if requests.is_empty() {
        bail!("no request lines (expected `METHOD /path` per line)");
    }
    Ok(requests)
}

/// Parses one `METHOD /path [TEMPLATE]` line; `number` is for the message.
pub fn parse_request_line(text: &str, number: usize) -> Result<ShadowRequest> {
    let mut words = text.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        bail!("line {number}: `{text}` is not `METHOD /path`");
    };
    let template = words.next();
    if words.next().is_some() {
        bail!("line {number}: `{text}` has more than `METHOD /path [TEMPLATE]`");
    }
    if !is_method_token(method) {
        bail!("line {number}: `{method}` is not an HTTP method (upper-case letters)");
    }
    let (host, path) = origin_form(target);
    if !path.starts_with('/') {
        bail!("line {number}: `{target}` is neither a path starting with / nor an http(s) URL");
    }
    if let Some(template) = template
        && !template.starts_with('/')
    {
        bail!("line {number}: the template `{template}` does not start with /");
    }
    let mut request = ShadowRequest::new(method, &path, number);
    request.host = host.map(str::to_string);
    request.template = template.map(str::to_string);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_templates() {
        let requests =
            parse_lines(b"# reads\n\nGET /users/7\r\nGET http://h:1/users?limit=2 /users\n")
                .unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].path, "/users/7");
        assert_eq!(requests[0].origin, 3);
        assert_eq!(requests[1].host.as_deref(), Some("h:1"));
        assert_eq!(requests[1].template.as_deref(), Some("/users"));
    }

    #[test]
    fn a_malformed_line_is_reported_by_number() {
        let error = parse_lines(b"GET /a\nGET /b\nfetch\n").unwrap_err();
        assert!(format!("{error:#}").contains("line 3"), "{error:#}");
        let error = parse_lines(b"GET /a\nget /b\n").unwrap_err();
        assert!(format!("{error:#}").contains("line 2"), "{error:#}");
        let error = parse_lines(b"GET /a\nGET \xff\xfe\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("line 2: not UTF-8"),
            "{error:#}"
        );
    }
}
