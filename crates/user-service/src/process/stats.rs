//! Per-group statistics: count, sum, min, max, mean = floor(sum / count), and the
//! nearest-rank percentiles p50/p95/p99 (the `((Q × count + 99) div 100)`-th smallest,
//! counting from 1).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
    pub mean: u64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
}

/// The nearest-rank `q`-th percentile of `sorted` (ascending, not empty).
pub fn nearest_rank(sorted: &[u32], q: u64) -> u64 {
    let rank = (q * sorted.len() as u64).div_ceil(100);
    // (q*count + 99) div 100 == ceil(q*count / 100), at least 1 for count >= 1.
    u64::from(sorted[rank as usize - 1])
}

/// The stats of `amounts` (not empty); sorts it in place.
pub fn stats(amounts: &mut [u32]) -> Stats {
    amounts.sort_unstable();
    let count = amounts.len() as u64;
    let sum: u64 = amounts.iter().map(|&amount| u64::from(amount)).sum();
    Stats {
        count,
        sum,
        min: u64::from(amounts[0]),
        max: u64::from(amounts[amounts.len() - 1]),
        mean: sum / count,
        p50: nearest_rank(amounts, 50),
        p95: nearest_rank(amounts, 95),
        p99: nearest_rank(amounts, 99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator (xorshift64*), so the test needs no crate.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn nearest_rank_matches_brute_force() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for count in 1..=300usize {
            let mut amounts: Vec<u32> = (0..count)
                .map(|_| (next(&mut state) % 2_000) as u32)
                .collect();
            let original = amounts.clone();
            let s = stats(&mut amounts);
            let mut sorted = original.clone();
            sorted.sort();
            for (q, got) in [(50u64, s.p50), (95, s.p95), (99, s.p99)] {
                // Brute force: the smallest value v such that at least q% of the values
                // are <= v.
                let want = sorted
                    .iter()
                    .copied()
                    .find(|&v| {
                        let at_most = original.iter().filter(|&&x| x <= v).count() as u64;
                        at_most * 100 >= q * count as u64
                    })
                    .unwrap();
                assert_eq!(got, u64::from(want), "q={q} count={count}");
            }
            let sum: u64 = original.iter().map(|&x| u64::from(x)).sum();
            assert_eq!(s.sum, sum);
            assert_eq!(s.mean, sum / count as u64);
            assert_eq!(s.min, u64::from(sorted[0]));
            assert_eq!(s.max, u64::from(*sorted.last().unwrap()));
            assert_eq!(s.count, count as u64);
        }
    }

    #[test]
    fn small_cases() {
        let s = stats(&mut [7]);
        assert_eq!((s.p50, s.p95, s.p99, s.mean), (7, 7, 7, 7));
        let s = stats(&mut [1, 2]);
        assert_eq!((s.p50, s.p95, s.p99, s.mean), (1, 2, 2, 1));
        let mut big = vec![1_000_000_000u32; 10_000];
        let s = stats(&mut big);
        assert_eq!(s.sum, 10_000_000_000_000);
        assert_eq!(s.mean, 1_000_000_000);
    }
}
