//! The end of a log file, quoted in errors when a server fails to start.

use std::path::Path;

/// The last `lines` lines of the file at `path`; empty when it cannot be read (a missing
/// log must not hide the error it was meant to explain).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn keeps_the_last_lines_only() {
        let path = std::env::temp_dir().join(format!("pg-embedded-tail-{}", std::process::id()));
        std::fs::write(&path, "one\ntwo\nthree\n").expect("the temp directory is writable");
        assert_eq!(tail(&path, 2), "two\nthree");
        assert_eq!(tail(&path, 10), "one\ntwo\nthree");
        std::fs::remove_file(&path).expect("removing the test file");
        assert_eq!(tail(&path, 2), "");
    }
}
