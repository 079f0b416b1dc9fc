//! `--share` as written: a fixed part `I/N`, or `auto/N`, the part a Kubernetes Indexed Job
//! gives each of its pods in `JOB_COMPLETION_INDEX` (0-based), so that one pod template
//! serves every part.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};

use super::share::Share;

/// The variable an Indexed Job sets in each pod: the pod's 0-based index.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// `--share I/N` or `--share auto/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareSpec {
    Fixed(Share),
    /// Part `JOB_COMPLETION_INDEX + 1` of `count`.
    Auto {
        count: u32,
    },
}

impl ShareSpec {
    /// The part this run sends; `job_index` is `JOB_COMPLETION_INDEX`'s value, if set.
    pub fn resolve(self, job_index: Option<&str>) -> Result<Share> {
        let count = match self {
            ShareSpec::Fixed(share) => return Ok(share),
            ShareSpec::Auto { count } => count,
        };
        let Some(text) = job_index else {
            bail!(
                "--share auto/{count} takes the part from {JOB_INDEX_VAR} (a Kubernetes Indexed \
                 Job sets it in each pod), and it is not set; give the part as --share I/{count}"
            );
        };
        let index: u32 = text
            .trim()
            .parse()
            .with_context(|| format!("{JOB_INDEX_VAR}=`{text}` is not a whole number"))?;
        if index >= count {
            bail!(
                "{JOB_INDEX_VAR}={index} is not one of the {count} parts of --share auto/{count} \
                 (0 to {})",
                count - 1
            );
        }
        Ok(Share {
            index: index + 1,
            count,
        })
    }
}

impl Default for ShareSpec {
    fn default() -> Self {
        ShareSpec::Fixed(Share::WHOLE)
    }
}

impl FromStr for ShareSpec {
    type Err = anyhow::Error;

    /// `auto/N`, or `I/N` as [`Share`] parses it.
    fn from_str(text: &str) -> Result<ShareSpec> {
        let Some(count) = text.strip_prefix("auto/") else {
            return Ok(ShareSpec::Fixed(text.parse()?));
        };
        let count: u32 = count
            .trim()
            .parse()
            .with_context(|| format!("`{count}` in share `{text}` is not a whole number"))?;
        if count == 0 {
            bail!("share `{text}`: auto/N needs N ≥ 1");
        }
        Ok(ShareSpec::Auto { count })
    }
}

impl fmt::Display for ShareSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareSpec::Fixed(share) => write!(formatter, "{share}"),
            ShareSpec::Auto { count } => write!(formatter, "auto/{count}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_part_from_the_job_index() {
        let spec: ShareSpec = "auto/3".parse().unwrap();
        assert_eq!(
            spec.resolve(Some("0")).unwrap(),
            Share { index: 1, count: 3 }
        );
        assert_eq!(
            spec.resolve(Some("2")).unwrap(),
            Share { index: 3, count: 3 }
        );
        assert!(spec.resolve(Some("3")).is_err());
        assert!(spec.resolve(Some("x")).is_err());
        let missing = spec.resolve(None).unwrap_err().to_string();
        assert!(missing.contains(JOB_INDEX_VAR), "{missing}");
        let fixed: ShareSpec = "2/4".parse().unwrap();
        assert_eq!(fixed.resolve(None).unwrap(), Share { index: 2, count: 4 });
        assert!("auto/0".parse::<ShareSpec>().is_err());
        assert!("auto/x".parse::<ShareSpec>().is_err());
    }
}
