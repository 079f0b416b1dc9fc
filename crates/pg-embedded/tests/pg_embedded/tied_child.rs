//! The parent-death signal fires when the *thread* that forked the child exits; children
//! spawned with `spawn_tied` must survive the end of the thread that asked for them.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

use nix::sys::signal::Signal;

/// Whether `child` still runs a moment after the thread that spawned it has exited.
fn alive_after_a_moment(child: &mut Child) -> bool {
    std::thread::sleep(Duration::from_millis(300));
    let alive = child
        .try_wait()
        .expect("asking the child's state")
        .is_none();
    let _ = child.kill();
    child.wait().expect("reaping the test child");
    alive
}

/// Why the keeper thread exists, and proof that the check below can fail: the signal set
/// directly in the child fires as soon as its spawning thread ends.
#[test]
fn a_child_tied_directly_dies_with_its_spawning_thread() {
    let mut child = std::thread::spawn(|| {
        let mut command = Command::new("sleep");
        command.arg("30");
        // SAFETY: only prctl, async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        command.spawn()
    })
    .join()
    .expect("the spawning thread")
    .expect("sleep starts");
    assert!(
        !alive_after_a_moment(&mut child),
        "the kernel no longer signals on the spawning thread's exit; the keeper may be moot"
    );
}

#[test]
fn a_tied_child_outlives_the_thread_that_spawned_it() {
    let mut child = std::thread::spawn(|| {
        let mut command = Command::new("sleep");
        command.arg("30");
        pg_embedded::spawn_tied(command, Signal::SIGKILL)
    })
    .join()
    .expect("the spawning thread")
    .expect("sleep starts");
    // The spawning thread is gone; a child forked from it directly would get SIGKILL now.
    assert!(
        alive_after_a_moment(&mut child),
        "the child died with the thread that spawned it"
    );
}
