//! nginx and Apache access logs in the combined format:
//! `host ident user [time] "METHOD /path HTTP/1.1" status bytes "referer" "user-agent"`.
//! Only the request field is replayed; a `"-"` request (a connection that sent no valid
//! request line) is skipped, because there is nothing to replay.

use anyhow::{Result, bail};

use super::super::request::{ShadowRequest, is_method_token};
use super::numbered_lines;

pub fn parse_access_log(bytes: &[u8]) -> Result<Vec<ShadowRequest>> {
    let mut requests = Vec::new();
    for line in numbered_lines(bytes) {
        let (number, text) = line?;
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        if let Some(request) = parse_combined_line(text, number)? {
            requests.push(request);
        }
    }
    if requests.is_empty() {
        bail!("no replayable requests in the access log");
    }
    Ok(requests)
}

/// Parses one log line; `Ok(None)` for a `"-"` request.
pub fn parse_combined_line(text: &str, number: usize) -> Result<Option<ShadowRequest>> {
    let Some(close_time) = text.find("] \"") else {
        bail!("line {number}: not the combined log format (no `[time] \"request\"`)");
    };
    let after = &text[close_time + 3..];
    let Some(request_field) = quoted_prefix(after) else {
        bail!("line {number}: the request field has no closing quote");
    };
    if request_field == "-" {
        return Ok(None);
    }
    let words: Vec<&str> = request_field.split(' ').collect();
    let (method, target) = match words.as_slice() {
        [method, target, protocol] if protocol.starts_with("HTTP/") => (*method, *target),
        [method, target] => (*method, *target),
        _ => bail!("line {number}: `{request_field}` is not `METHOD /path HTTP/x`"),
    };
    if !is_method_token(method) || !target.starts_with('/') {
        bail!("line {number}: `{request_field}` is not `METHOD /path HTTP/x`");
    }
    Ok(Some(ShadowRequest::new(method, target, number)))
}

/// The text up to the next unescaped `"` (nginx writes `\"` inside fields).
fn quoted_prefix(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return Some(&text[..index]),
            _ => index += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08"
10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "-" 400 0 "-" "-"
10.0.0.3 - - [10/Oct/2000:13:55:38 -0700] "POST /users HTTP/1.1" 201 80 "-" "curl/8 \"x\""
"#;

    #[test]
    fn combined_lines_give_method_and_path() {
        let requests = parse_access_log(LOG.as_bytes()).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, "GET");
        assert_eq!(requests[0].path, "/apache_pb.gif?a=1");
        assert_eq!(requests[1].method, "POST");
        assert_eq!(requests[1].origin, 3);
    }

    #[test]
    fn a_broken_line_is_reported_by_number() {
        let text = format!("{LOG}garbage line\n");
        let error = parse_access_log(text.as_bytes()).unwrap_err();
        assert!(format!("{error:#}").contains("line 4"), "{error:#}");
    }
}
