//! Large request bodies go back to the operating system when they are freed.
//!
//! glibc serves an allocation from the heap, not from its own `mmap`, once it is below
//! the *dynamic* mmap threshold, and every freed `mmap`ed block raises that threshold
//! (up to 32 MiB). After the first megabyte-sized bodies, later ones therefore come
//! from the heap arenas, which fragment and keep their pages: RSS grows past what the
//! body budget holds. Measured with `scripts/ci/overload.sh` (300 connections sending
//! 10,000-record batches, debug build, machine shared with other builds): peak RSS
//! 199–215 MiB with the dynamic threshold, 154 MiB with it fixed at 128 KiB. Fixing the
//! threshold (glibc's `M_MMAP_THRESHOLD`, which also switches the dynamic adjustment
//! off) costs one `mmap`/`munmap` pair per large body, nothing for small allocations.

/// glibc's default starting threshold; blocks at least this large are `mmap`ed.
pub const MMAP_THRESHOLD_BYTES: i32 = 128 * 1024;

/// Fixes the mmap threshold (glibc only; other allocators return memory on their own).
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets an allocator parameter; it is called before the
        // server's threads start, and glibc serialises it with allocations anyway.
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        if set != 1 {
            tracing::warn!("mallopt(M_MMAP_THRESHOLD) failed; large bodies may stay resident");
        }
    }
}
