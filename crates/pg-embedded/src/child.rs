//! Child processes tied to this one: when this process dies, however it dies, the
//! child gets a signal (Linux `PR_SET_PDEATHSIG`) instead of lingering. Used for the
//! embedded PostgreSQL and for the servers tests and the lab start.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::Signal;

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command`; the child receives `signal` when this process exits.
///
/// The parent-death signal fires when the *thread* that forked the child exits, so the
/// spawn happens on a keeper thread that lives as long as the process: spawning from a
/// short-lived runtime worker (a test's runtime, a blocking-pool thread) would stop the
/// child under our feet.
pub fn spawn_tied(mut command: Command, signal: Signal) -> io::Result<Child> {
    // SAFETY: only async-signal-safe work (one prctl call) between fork and exec. It
    // runs after std applies uid/gid, which would otherwise clear the setting.
    unsafe {
        command.pre_exec(move || nix::sys::prctl::set_pdeathsig(signal).map_err(io::Error::from));
    }
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        let started = std::thread::Builder::new()
            .name("child-keeper".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
                // The sender lives in a static, so the loop only ends at process exit; park
                // rather than let the children see this thread die.
                loop {
                    std::thread::park();
                }
            });
        if let Err(error) = started {
            tracing::error!(%error, "cannot start the child keeper thread");
        }
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    keeper
        .lock()
        .map_err(|_| io::Error::other("the child keeper lock is poisoned"))?
        .send((command, reply))
        .map_err(|_| io::Error::other("the child keeper thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the child keeper thread is gone"))?
}
