//! A lab's `secrets`: the values of the named placeholders (vars, setup outputs) never reach
//! anything ferry writes. Each is replaced by `***` wherever it appears as a substring: in
//! `compare.json` (its `command` too), the HTML page, every file in `logs/` (a target's output
//! is piped through the mask when there is one) and the terminal. Files that setup steps write
//! themselves are theirs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, RwLock};

/// What a masked value is shown as.
pub const MASKED: &str = "***";

/// The secret values known so far, shared by everything that writes: setup outputs join it
/// as the steps run.
#[derive(Debug, Clone, Default)]
pub struct Mask {
    values: Arc<RwLock<Vec<String>>>,
}

impl Mask {
    /// Adds the values of the placeholders among `names` that `values` holds now.
    pub fn learn(&self, names: &[String], values: &BTreeMap<String, String>) {
        for name in names {
            if let Some(value) = values.get(name) {
                self.add(value);
            }
        }
    }

    /// Adds one secret value.
    pub fn add(&self, value: &str) {
        let Ok(mut known) = self.values.write() else {
            return;
        };
        if value.is_empty() || known.iter().any(|known| known == value) {
            return;
        }
        known.push(value.to_string());
        // Longest first, so that a secret containing another is masked whole.
        known.sort_by_key(|value| std::cmp::Reverse(value.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.values.read().map_or(true, |known| known.is_empty())
    }

    /// `text` with every secret value replaced by [`MASKED`].
    pub fn apply(&self, text: &str) -> String {
        let Ok(known) = self.values.read() else {
            // A poisoned lock: nothing proves what is secret any more, so nothing is shown.
            return MASKED.to_string();
        };
        let mut out = text.to_string();
        for value in known.iter() {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASKED);
            }
        }
        out
    }

    /// Copies `from` (a child's stdout or stderr) into `to` line by line, masked, on a thread
    /// of its own, until the child closes it.
    pub fn pipe(&self, from: impl Read + Send + 'static, mut to: std::fs::File) {
        let mask = self.clone();
        let _ = std::thread::Builder::new()
            .name("ferry-log-mask".into())
            .spawn(move || {
                let mut reader = BufReader::new(from);
                let mut line = Vec::new();
                while reader
                    .read_until(b'\n', &mut line)
                    .is_ok_and(|read| read > 0)
                {
                    let text = String::from_utf8_lossy(&line);
                    if to.write_all(mask.apply(&text).as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_every_secret_is_masked() {
        let mask = Mask::default();
        let values = BTreeMap::from([
            ("secret".to_string(), "s3cr3t".to_string()),
            ("token".to_string(), "tok-s3cr3t-en".to_string()),
            ("users".to_string(), "1000".to_string()),
        ]);
        assert!(mask.is_empty());
        mask.learn(&["secret".into(), "token".into(), "later".into()], &values);
        assert_eq!(
            mask.apply("a=s3cr3t b=tok-s3cr3t-en users=1000 s3cr3ts3cr3t"),
            "a=*** b=*** users=1000 ******"
        );
    }
}
