//! The parent-death signal fires when the *thread* that forked the child exits; children
//! spawned with `spawn_tied` must survive the end of the thread that asked for them.

use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

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
    std::thread::sleep(Duration::from_millis(300));
    let status = child.try_wait().expect("asking the child's state");
    assert!(
        status.is_none(),
        "the child died with the thread that spawned it: {status:?}"
    );
    child.kill().expect("killing the test child");
    child.wait().expect("reaping the test child");
}
