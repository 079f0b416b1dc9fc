//! Where replayed requests come from: a file of request lines, a ferry target file, an
//! nginx/Apache access log in the combined format, or a HAR file. The format is recognised
//! from the content, so `--requests` takes any of them.

mod access_log;
mod har;
mod lines;
mod target_file;

use std::path::Path;

use anyhow::{Context, Result};

use super::request::ShadowRequest;

pub use access_log::parse_combined_line;
pub use lines::parse_request_line;

/// The formats `--requests` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Lines,
    TargetFile,
    AccessLog,
    Har,
}

impl SourceFormat {
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Lines => "request lines",
            SourceFormat::TargetFile => "ferry target file",
            SourceFormat::AccessLog => "combined access log",
            SourceFormat::Har => "HAR",
        }
    }
}

/// How many requests to draw from a target file, which describes a mix rather than a list.
#[derive(Debug, Clone, Copy)]
pub struct MixDraw {
    pub count: usize,
    pub seed: u64,
}

/// Reads every request of `path`; an error names the line (or entry) and why.
pub fn read_requests(path: &Path, draw: MixDraw) -> Result<(SourceFormat, Vec<ShadowRequest>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let format = detect(&bytes);
    let requests = match format {
        SourceFormat::Har => har::parse_har(&bytes),
        SourceFormat::TargetFile => target_file::draw_from_target_file(path, draw),
        SourceFormat::AccessLog => access_log::parse_access_log(&bytes),
        SourceFormat::Lines => lines::parse_lines(&bytes),
    }
    .with_context(|| format!("reading {} ({})", path.display(), format.name()))?;
    Ok((format, requests))
}

/// JSON with `log.entries` is HAR, JSON with `requests` a target file; text whose first
/// request line has a quoted request field is an access log, anything else request lines.
fn detect(bytes: &[u8]) -> SourceFormat {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|index| bytes[index] == b'{') {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
            && value.get("log").is_some()
        {
            return SourceFormat::Har;
        }
        return SourceFormat::TargetFile;
    }
    let first = bytes
        .split(|&b| b == b'\n')
        .map(|line| line.trim_ascii())
        .find(|line| !line.is_empty() && !line.starts_with(b"#"));
    match first {
        Some(line) if line.contains(&b'"') && line.contains(&b'[') => SourceFormat::AccessLog,
        _ => SourceFormat::Lines,
    }
}

/// Lines of `bytes` numbered from 1, each checked to be UTF-8.
fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = Result<(usize, &str)>> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(index, raw)| {
            let number = index + 1;
            let text = std::str::from_utf8(raw)
                .with_context(|| format!("line {number}: not UTF-8 text"))?;
            Ok((number, text.trim_end_matches('\r')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_from_the_content() {
        assert_eq!(detect(b"# c\nGET /a\n"), SourceFormat::Lines);
        assert_eq!(
            detect(
                b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 2 \"-\" \"-\"\n"
            ),
            SourceFormat::AccessLog
        );
        assert_eq!(detect(br#"{"log": {"entries": []}}"#), SourceFormat::Har);
        assert_eq!(detect(br#" {"requests": []}"#), SourceFormat::TargetFile);
    }
}
