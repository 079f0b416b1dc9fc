//! How many connections the server holds at once, from the descriptors it may open.
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard limit (a service should not
//! run out of descriptors at the distribution's default 1,024). The cap is that limit
//! less [`RESERVED_DESCRIPTORS`] for everything that is not a client connection
//! (database connections, the listener, files, the runtime's own). actix-server counts
//! connections per worker and stops accepting when a worker is full, so connections
//! past the cap wait in the listen backlog (they are neither accepted nor reset).

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Descriptors kept for what is not a client connection.
pub const RESERVED_DESCRIPTORS: u64 = 1024;

/// Fewest connections a worker is given, however low the limit.
const MIN_PER_WORKER: usize = 16;

/// Raises the soft descriptor limit to the hard one; returns the limit now in force.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    // An unlimited hard limit still stops at the kernel's `nr_open`.
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map_or(hard, |nr_open| hard.min(nr_open));
    if soft < ceiling {
        setrlimit(Resource::RLIMIT_NOFILE, ceiling, hard)?;
        tracing::debug!(from = soft, to = ceiling, "raised RLIMIT_NOFILE");
    }
    Ok(ceiling.max(soft))
}

/// Connections per worker for a process-wide cap: `configured` when not 0, else the
/// descriptor limit less the reserve.
pub fn per_worker(configured: usize, descriptor_limit: u64, workers: usize) -> usize {
    let total = if configured > 0 {
        configured
    } else {
        usize::try_from(descriptor_limit.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX)
    };
    if configured > 0 {
        total.div_ceil(workers.max(1)).max(1)
    } else {
        (total / workers.max(1)).max(MIN_PER_WORKER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_the_descriptor_limit_less_the_reserve_shared_by_workers() {
        assert_eq!(per_worker(0, 20_000, 2), (20_000 - 1024) / 2);
        assert_eq!(per_worker(0, 1_048_576, 4), (1_048_576 - 1024) / 4);
        assert_eq!(
            per_worker(0, 512, 2),
            MIN_PER_WORKER,
            "a tiny limit still serves"
        );
        assert_eq!(
            per_worker(3, 20_000, 2),
            2,
            "a configured cap is split, rounded up"
        );
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        let limit = raise_descriptor_limit().expect("getrlimit and setrlimit work");
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        assert_eq!(soft, limit, "the soft limit is now the one reported");
        assert!(soft == hard || hard == nix::sys::resource::RLIM_INFINITY);
    }
}
