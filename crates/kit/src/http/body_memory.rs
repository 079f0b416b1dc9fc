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

/// Bytes a connection reads per turn of its task (`head_deadline::DeadlineStream`).
///
/// actix-http's dispatcher reads until its read buffer holds 128 KiB before it looks at
/// whether the request wants more (or has gone, and the rest of its body is being
/// discarded), and the buffer doubles as it grows. With 300 connections each sending a
/// 1.3 MB batch, most of them answered 503 and draining their bodies, the read buffers
/// held 117 MB at the peak (heaptrack; the bodies themselves 28 MB, within the body
/// budget), and the peak RSS after a read flood was 223–246 MiB. Handing it at most this
/// much per turn lets it pass each piece to the request (or drop it) before it reads
/// more: peak 194–197 MiB on the same load (`tests/overload.rs`,
/// `reads_then_big_batches_on_one_process`). A connection whose request does not read
/// its body still fills actix's buffer, turn by turn, so the read buffers still held
/// 110 MB at that peak, over the 750–950 connections open at once (300 sending, the rest
/// in their lingering close). It costs a task wake-up per this many bytes of a body,
/// none on small requests.
pub const READ_PER_TURN_BYTES: usize = 16 * 1024;

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
