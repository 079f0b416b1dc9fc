//! The targets ferry starts: each on its own free port, waited for until ready, and stopped
//! with their whole process group, so that no cluster worker is left behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::lab::builtin;
use super::lab::placeholders::expand;

/// How long a target may take to answer its `ready` path before the run gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the group is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Between readiness polls: short, because the cold start is measured by them.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How to start one target of a lab: its argv, environment and folder as templates, filled
/// with the run's placeholders and a free `{port}` at each start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub name: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// The lab's environment, then the target's own.
    pub env: Vec<(String, String)>,
    /// Polled until it answers 200.
    pub ready: String,
    /// The run's placeholders (`{dir}`, `{out}`, setup outputs, ...), without `{port}`.
    pub values: BTreeMap<String, String>,
}

impl Launch {
    /// Starts the target on a free port, in its own process group, its output appended to
    /// `log`. It is tied to this process: if ferry dies, the kernel kills it.
    pub fn spawn(&self, log: &Path) -> Result<Running> {
        let port = free_port()?;
        let mut values = self.values.clone();
        values.insert(builtin::PORT.into(), port.to_string());
        let fill = |text: &str| expand(text, &values);
        let argv: Vec<String> = self.argv.iter().map(|arg| fill(arg)).collect();
        let (program, args) = argv
            .split_first()
            .context("a lab target's `start` is never empty (checked when the lab is read)")?;
        let file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(name, value)| (name, fill(value))))
            .stdin(Stdio::null())
            .stdout(file.try_clone().context("sharing the target log")?)
            .stderr(file)
            .process_group(0);
        // SAFETY: the closure runs in the child between fork and exec and only calls prctl,
        // which is async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {} ({program})", self.name))?;
        Ok(Running {
            name: self.name.clone(),
            port,
            ready: fill(&self.ready),
            child: Some(child),
            started,
            log: log.to_path_buf(),
        })
    }
}

/// A started target.
pub struct Running {
    pub name: String,
    pub port: u16,
    ready: String,
    child: Option<Child>,
    started: Instant,
    log: PathBuf,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id of the target's top process (a cluster's primary).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Polls its `ready` path until it answers 200, and returns the time from spawn to then.
    pub fn wait_ready(&mut self) -> Result<Duration> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("checking the target")?
            {
                bail!(
                    "{} exited while starting ({status}); the end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log, 20)
                );
            }
            if http_status(address, &self.ready) == Some(200) {
                return Ok(self.started.elapsed());
            }
            if self.started.elapsed() > READY_TIMEOUT {
                bail!(
                    "{} was not ready within {} s; the end of {}:\n{}",
                    self.name,
                    READY_TIMEOUT.as_secs(),
                    self.log.display(),
                    tail(&self.log, 20)
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Kills the whole group at once: for cold-start trials, whose shutdown is not measured.
    pub fn kill(mut self) {
        self.kill_group();
    }

    /// SIGTERM to the group (the services drain), then SIGKILL after a grace period.
    pub fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child
                .try_wait()
                .context("waiting for the target")?
                .is_some()
            {
                // Cluster workers may outlive the primary by a moment; none may survive.
                let _ = killpg(group, Signal::SIGKILL);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait();
        bail!(
            "{} did not stop within {} s of SIGTERM and was killed",
            self.name,
            STOP_TIMEOUT.as_secs()
        )
    }

    fn kill_group(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    /// On every error path (and Ctrl-C) the target goes with us.
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener
        .local_addr()
        .context("reading the free port")?
        .port())
}

/// The status of `GET path`, or `None` when the server does not answer (yet).
pub fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => return None,
            Ok(count) => read += count,
        }
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
