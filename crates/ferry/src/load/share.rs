//! `--share I/N`: one of N equal parts of a load, so that N hosts together send it once.
//!
//! The parts interleave rather than cut the load into blocks: in the open model part I takes
//! the schedule's ticks I−1, I−1+N, I−1+2N, ..., so each host runs rate/N on a schedule offset
//! by one tick from its neighbour's and the union of the parts is the intended schedule, tick
//! for tick. Value files are walked the same way (round-robin order), and random picks are
//! seeded per part, so no two hosts replay the same sequence. In the closed model the
//! connections (and a `-n` request count) are divided.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Part `index` (1-based) of `count` equal parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Share {
    pub index: u32,
    pub count: u32,
}

impl Share {
    /// The whole load: part 1 of 1.
    pub const WHOLE: Share = Share { index: 1, count: 1 };

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Zero-based position of this part among the parts.
    fn offset(&self) -> u64 {
        u64::from(self.index - 1)
    }

    /// The lane of worker `worker` of `workers` in the run as a whole, and how many lanes the
    /// run has (`count × workers`): lane `l` takes the global ticks (and round-robin values)
    /// `l, l + lanes, l + 2·lanes, ...`. With several hosts this is the same interleaving the
    /// workers of one host already use, one level up.
    pub fn lane(&self, worker: usize, workers: usize) -> (u64, u64) {
        let count = u64::from(self.count);
        (
            self.offset() + count * worker as u64,
            count * workers.max(1) as u64,
        )
    }

    /// This part's portion of `total` things (connections, requests): an equal split, the
    /// remainder going to the first parts.
    pub fn portion(&self, total: u64) -> u64 {
        let count = u64::from(self.count);
        total / count + u64::from(self.offset() < total % count)
    }
}

impl Default for Share {
    fn default() -> Self {
        Share::WHOLE
    }
}

impl FromStr for Share {
    type Err = anyhow::Error;

    /// Parses `I/N`, as in `--share 2/4`.
    fn from_str(text: &str) -> Result<Share> {
        let (index, count) = text
            .split_once('/')
            .with_context(|| format!("`{text}` is not a share: write it I/N, as in 1/2"))?;
        let index: u32 = index
            .trim()
            .parse()
            .with_context(|| format!("`{index}` in share `{text}` is not a whole number"))?;
        let count: u32 = count
            .trim()
            .parse()
            .with_context(|| format!("`{count}` in share `{text}` is not a whole number"))?;
        if count == 0 || index == 0 || index > count {
            bail!("share `{text}`: I/N needs 1 ≤ I ≤ N");
        }
        Ok(Share { index, count })
    }
}

impl fmt::Display for Share {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_and_refuse_nonsense() {
        assert_eq!(
            "2/3".parse::<Share>().unwrap(),
            Share { index: 2, count: 3 }
        );
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "-1/2"] {
            assert!(bad.parse::<Share>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lanes_of_all_parts_cover_every_tick_once() {
        let workers = 3;
        let parts = 4;
        let mut seen = Vec::new();
        for index in 1..=parts {
            let share = Share {
                index,
                count: parts,
            };
            for worker in 0..workers {
                let (lane, lanes) = share.lane(worker, workers);
                seen.extend((0..10).map(|step| lane + step * lanes));
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..120).collect::<Vec<u64>>());
    }

    #[test]
    fn portions_add_up_to_the_total() {
        for total in [0, 1, 5, 50, 51] {
            let sum: u64 = (1..=3)
                .map(|index| Share { index, count: 3 }.portion(total))
                .sum();
            assert_eq!(sum, total);
        }
        assert_eq!(Share { index: 1, count: 3 }.portion(5), 2);
        assert_eq!(Share { index: 3, count: 3 }.portion(5), 1);
    }
}
