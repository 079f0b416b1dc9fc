//! A bad lab file, told as `FILE:LINE: key `KEY`: what is wrong`, so that a person can go
//! straight to the line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabError {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// The key (or dotted path) the problem is at.
    pub key: String,
    pub message: String,
}

impl fmt::Display for LabError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}: key `{}`: {}",
            self.file.display(),
            self.line,
            self.key,
            self.message
        )
    }
}

impl std::error::Error for LabError {}

/// Where problems are reported: the file and its text, to turn byte offsets into lines.
pub struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
            + 1
    }

    pub fn error(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> LabError {
        LabError {
            file: self.file.to_path_buf(),
            line: self.line_of(span.start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A problem of the whole file (no position of its own): line 1.
    pub fn whole(&self, key: &str, message: impl Into<String>) -> LabError {
        self.error(0..0, key, message)
    }

    /// A TOML syntax or shape error (an unknown key, a wrong type), with the key it is at.
    pub fn from_toml(&self, error: &toml::de::Error) -> LabError {
        let span = error.span().unwrap_or(0..0);
        let at = self.text.get(span.clone()).unwrap_or("").trim();
        let key = if !at.is_empty() && at.len() <= 60 && !at.contains('\n') {
            at.trim_matches(['[', ']', '"']).to_string()
        } else {
            String::from("(file)")
        };
        self.error(span, &key, error.message().trim().to_string())
    }
}
