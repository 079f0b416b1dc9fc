//! The two services under comparison: building them, starting each on its own port with the
//! same settings, waiting for readiness, and stopping them (their whole process group, so no
//! cluster worker is left behind).

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

/// How long a target may take to answer `/health/ready` before the run gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the group is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Between readiness polls: short, because the cold start is measured by them.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Walks up from `start` to the workspace root: the directory holding both `Cargo.toml` and
/// `crates/user-service`.
pub fn locate_repo(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start).context("resolving the current directory")?;
    for dir in start.ancestors() {
        if dir.join("Cargo.toml").is_file() && dir.join("crates/user-service").is_dir() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no project root above {} (a directory with Cargo.toml and crates/user-service); run \
         ferry compare inside the repository or pass --repo",
        start.display()
    )
}

/// Where cargo puts release binaries for this workspace.
pub fn release_dir(repo: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| repo.join("target"), |dir| repo.join(dir));
    target.join("release")
}

/// `cargo build --release -p user-service`; its output goes to `log`, and its tail into the
/// error when it fails.
pub fn build_rust(repo: &Path, log: &Path) -> Result<PathBuf> {
    let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "user-service"])
        .current_dir(repo)
        .stdin(Stdio::null())
        .stdout(file.try_clone().context("sharing the build log")?)
        .stderr(file)
        .status()
        .context("running cargo (is the Rust toolchain installed?)")?;
    if !status.success() {
        bail!(
            "cargo build --release -p user-service failed ({status}); the end of {}:\n{}",
            log.display(),
            tail(log, 30)
        );
    }
    let binary = release_dir(repo).join("user-service");
    if !binary.is_file() {
        bail!("the build succeeded but {} is missing", binary.display());
    }
    Ok(binary)
}

/// Whether `node` runs, and its version.
pub fn node_version() -> Option<String> {
    let output = Command::new("node").arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs `npm ci` in `dir` when `node_modules` is missing.
pub fn npm_ci_if_needed(dir: &Path, log: &Path) -> Result<bool> {
    if dir.join("node_modules").is_dir() {
        return Ok(false);
    }
    let file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = Command::new("npm")
        .arg("ci")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone().context("sharing the npm log")?)
        .stderr(file)
        .status()
        .context("running npm (install Node.js with npm, or run npm ci in baselines/node)")?;
    if !status.success() {
        bail!(
            "npm ci in {} failed ({status}); run npm ci in baselines/node by hand. The end of {}:\n{}",
            dir.display(),
            log.display(),
            tail(log, 20)
        );
    }
    Ok(true)
}

/// How to start one target; the port is chosen per start.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// `node` or `rust`: names in tables, JSON keys.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Environment on top of ours; `PORT` is added per start.
    pub env: Vec<(String, String)>,
}

/// The environment both targets get: same database, secret, pool budget and workers.
pub fn common_env(
    database_url: &str,
    jwt_secret: &str,
    pool: u32,
    workers: usize,
) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("JWT_SECRET", jwt_secret.to_string()),
        ("DB_POOL_SIZE", pool.to_string()),
        ("WORKERS", workers.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

impl TargetSpec {
    /// The Rust service: the release binary, run from the repository so it finds `config/`.
    pub fn rust(binary: &Path, repo: &Path, env: Vec<(String, String)>) -> TargetSpec {
        let mut env = env;
        env.push((
            "APP_CONFIG_DIR".into(),
            repo.join("config").display().to_string(),
        ));
        // Both services log warnings only: request logging is not what is being compared.
        env.push(("APP_LOG__FILTER".into(), "warn".into()));
        env.push(("APP_LOG__FORMAT".into(), "json".into()));
        TargetSpec {
            name: "rust".into(),
            program: binary.to_path_buf(),
            args: vec!["serve".into()],
            cwd: repo.to_path_buf(),
            env,
        }
    }

    /// The Node.js baseline under `dir`, in cluster mode.
    pub fn node(dir: &Path, env: Vec<(String, String)>) -> TargetSpec {
        let mut env = env;
        env.push(("LOG_LEVEL".into(), "warn".into()));
        env.push(("NODE_ENV".into(), "production".into()));
        TargetSpec {
            name: "node".into(),
            program: PathBuf::from("node"),
            args: vec!["src/main.js".into()],
            cwd: dir.to_path_buf(),
            env,
        }
    }

    /// Starts the target on a free port, in its own process group, its output appended to
    /// `log`. It is tied to this process: if ferry dies, the kernel kills it.
    pub fn spawn(&self, log: &Path) -> Result<Running> {
        let port = free_port().context("finding a free port")?;
        let file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(file.try_clone().context("sharing the target log")?)
            .stderr(file)
            .process_group(0);
        let started = Instant::now();
        let child = spawn_tied(command, Signal::SIGKILL)
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        Ok(Running {
            name: self.name.clone(),
            port,
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
    child: Option<Child>,
    started: Instant,
    log: PathBuf,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id of the target's top process (the cluster primary for Node).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Polls `/health/ready` until it answers 200, and returns the time from spawn to then.
    pub fn wait_ready(&mut self) -> Result<Duration> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let child = self.child.as_mut();
        match wait_ready(child, self.started, READY_TIMEOUT, POLL_INTERVAL, || {
            http_status(address, "/health/ready") == Some(200)
        })
        .context("checking the target")?
        {
            Readiness::Ready(elapsed) => Ok(elapsed),
            Readiness::Exited(status) => bail!(
                "{} exited while starting ({status}); the end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 20)
            ),
            Readiness::TimedOut => bail!(
                "{} was not ready within {} s; the end of {}:\n{}",
                self.name,
                READY_TIMEOUT.as_secs(),
                self.log.display(),
                tail(&self.log, 20)
            ),
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
