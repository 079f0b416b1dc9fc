//! The targets ferry starts: each on its own free port, waited for until ready, and stopped
//! with their whole process group, so that no cluster worker is left behind. A target with a
//! `[target.tls]` table is reached, and polled for readiness, over HTTPS.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pg_embedded::{Readiness, free_port, http_status, spawn_tied, tail, wait_ready};

use crate::load::TlsOptions;
use crate::load::settings::HttpVersion;
use crate::load::tls::{TlsClient, https_status};

use super::container::{Cgroup, ContainerRun};
use super::lab::builtin;
use super::lab::placeholders::expand;
use super::live::Gauge;
use super::sampler::tree_rss;
use super::secrets::Mask;

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
    /// How long it may take to answer `ready` before the run gives up (`ready_timeout`).
    pub ready_timeout: Duration,
    /// The run's placeholders (`{dir}`, `{out}`, setup outputs, ...), without `{port}`.
    pub values: BTreeMap<String, String>,
    /// The lab's secrets: when there are any, the target's output reaches its log through it.
    pub mask: Mask,
    /// `[target.tls]`: the target serves HTTPS.
    pub tls: Option<TlsOptions>,
    /// `[target.container]`: `argv` is the command after the image, run by the engine.
    pub container: Option<ContainerRun>,
}

impl Launch {
    /// Starts the target on a free port, in its own process group, its output appended to
    /// `log`. It is tied to this process: if ferry dies, the kernel kills it.
    pub fn spawn(&self, log: &Path) -> Result<Running> {
        let port = free_port().context("finding a free port")?;
        let mut values = self.values.clone();
        values.insert(builtin::PORT.into(), port.to_string());
        let fill = |text: &str| expand(text, &values);
        let mut argv: Vec<String> = self.argv.iter().map(|arg| fill(arg)).collect();
        let container = self
            .container
            .as_ref()
            .map(|run| {
                let name = format!("ferry-{}-{port}", self.name);
                // One left by a run that was killed would hold the name.
                run.remove(&name);
                let env: Vec<String> = self.env.iter().map(|(name, _)| name.clone()).collect();
                let database_url = values.get(builtin::DATABASE_URL).map(String::as_str);
                argv = run.argv(&name, &env, database_url, &argv)?;
                Ok::<_, anyhow::Error>(Started {
                    run: run.clone(),
                    name,
                    cgroup: None,
                })
            })
            .transpose()?;
        // Made before the clock starts: reading the certificates is not the target's time.
        let tls = self
            .tls
            .as_ref()
            .map(|options| {
                TlsClient::new(options, &format!("127.0.0.1:{port}"), HttpVersion::Http1)
                    .with_context(|| format!("{}'s [target.tls]", self.name))
            })
            .transpose()?;
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
            .process_group(0);
        let masked = !self.mask.is_empty();
        if masked {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            command
                .stdout(file.try_clone().context("sharing the target log")?)
                .stderr(file.try_clone().context("sharing the target log")?);
        }
        let started = Instant::now();
        let mut child = spawn_tied(command, Signal::SIGKILL)
            .with_context(|| format!("starting {} ({program})", self.name))?;
        if masked {
            if let Some(stdout) = child.stdout.take() {
                self.mask
                    .pipe(stdout, file.try_clone().context("sharing the target log")?);
            }
            if let Some(stderr) = child.stderr.take() {
                self.mask.pipe(stderr, file);
            }
        }
        Ok(Running {
            name: self.name.clone(),
            port,
            ready: fill(&self.ready),
            ready_timeout: self.ready_timeout,
            child: Some(child),
            started,
            log: log.to_path_buf(),
            tls,
            container,
        })
    }
}

/// A started target.
pub struct Running {
    pub name: String,
    pub port: u16,
    ready: String,
    ready_timeout: Duration,
    child: Option<Child>,
    started: Instant,
    log: PathBuf,
    /// Set for a target that serves HTTPS: readiness is polled over TLS.
    tls: Option<TlsClient>,
    /// Set for a container target: the process is the engine's client.
    container: Option<Started>,
}

/// A container ferry started: removed with the target.
struct Started {
    run: ContainerRun,
    name: String,
    /// Found once it is ready.
    cgroup: Option<Cgroup>,
}

impl Running {
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The path polled until it answers 200 (`ready`), placeholders filled in.
    pub fn ready_path(&self) -> &str {
        &self.ready
    }

    /// The process id of the target's top process (a cluster's primary).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Polls its `ready` path until it answers 200, and returns the time from spawn to then.
    pub fn wait_ready(&mut self) -> Result<Duration> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let child = self.child.as_mut();
        let ready = &self.ready;
        let tls = self.tls.as_ref();
        // A TLS failure (a certificate refused, a server that does not speak TLS) is not
        // cured by waiting: it ends the wait, and the run, at once.
        let mut tls_failure = None;
        let readiness = wait_ready(
            child,
            self.started,
            self.ready_timeout,
            POLL_INTERVAL,
            || match tls {
                None => http_status(address, ready) == Some(200),
                Some(client) => match https_status(client, address, ready) {
                    Ok(status) => status == Some(200),
                    Err(error) => {
                        tls_failure = Some(error);
                        true
                    }
                },
            },
        )
        .context("checking the target")?;
        if let Some(error) = tls_failure {
            bail!("{}: {error:#}", self.name);
        }
        match readiness {
            Readiness::Ready(elapsed) => {
                if let Some(started) = self.container.as_mut() {
                    started.cgroup = Some(started.run.cgroup(&started.name)?);
                }
                Ok(elapsed)
            }
            Readiness::Exited(status) => bail!(
                "{} exited while starting ({status}); the end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 20)
            ),
            Readiness::TimedOut => bail!(
                "{} did not answer 200 on {} within its ready_timeout ({}); the end of its \
                 stdout and stderr ({}):\n{}",
                self.name,
                self.ready,
                crate::units::format_seconds(self.ready_timeout.as_secs_f64()),
                self.log.display(),
                tail(&self.log, 20)
            ),
        }
    }

    /// How its CPU and memory are read: its process tree, or a container's cgroup.
    pub fn gauge(&self) -> Gauge {
        match self.container.as_ref() {
            Some(Started {
                run,
                cgroup: Some(cgroup),
                ..
            }) => Gauge::Cgroup {
                cgroup: cgroup.clone(),
                cores: run.spec.cores(),
            },
            _ => Gauge::Tree(self.pid()),
        }
    }

    /// Its resident memory now (a container's anonymous memory).
    pub fn rss(&self) -> u64 {
        match self.container.as_ref().and_then(|c| c.cgroup.as_ref()) {
            Some(cgroup) => cgroup.read().map_or(0, |(_, rss)| rss),
            None => tree_rss(self.pid()),
        }
    }

    /// A container target's description of an OOM kill since it started, if there was one.
    pub fn oom_kill(&self) -> Option<String> {
        let started = self.container.as_ref()?;
        started
            .run
            .oom_killed(&started.name, started.cgroup.as_ref())
            .then(|| {
                format!(
                    "OOM kill: {} ran out of its memory limit ({})",
                    self.name, started.run.spec.memory
                )
            })
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
                self.remove_container();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait();
        self.remove_container();
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
        self.remove_container();
    }

    /// A container outlives its engine client killed: it is removed by name.
    fn remove_container(&mut self) {
        if let Some(started) = self.container.take() {
            started.run.remove(&started.name);
        }
    }
}

impl Drop for Running {
    /// On every error path (and Ctrl-C) the target goes with us.
    fn drop(&mut self) {
        self.kill_group();
    }
}
