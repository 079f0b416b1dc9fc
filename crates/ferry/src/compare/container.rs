//! Targets run as containers (`[target.container]`): the engine's `run` command line, the
//! container's cgroup (its CPU and memory counters, v1 or v2), its removal, and the engine's
//! own start of a trivial command from the same image.
//!
//! The container runs on the host's network, so `{port}` and `ready` work as for a process.
//! It reaches the lab's embedded PostgreSQL through the server's private socket directory,
//! mounted at the same path, and runs as that directory's owner: the database is not opened
//! to anyone else.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::lab::ContainerSpec;

/// The engines ferry can drive, in the order `--engine` looks for them.
pub const ENGINES: [&str; 2] = ["podman", "docker"];

/// Whether the engine's `inspect` line `OOMKilled Status ExitCode` tells of an OOM kill:
/// `OOMKilled` true, or an exit by SIGKILL (137). Nothing printed (the container already
/// gone, the engine failing) is no OOM.
fn inspect_says_oom(text: &str) -> bool {
    let fields: Vec<&str> = text.split_whitespace().collect();
    matches!(fields.as_slice(), ["true", ..] | [_, "exited", "137"])
}

/// How long the engine's run of a trivial command may take before it counts as one that does
/// not exit (a server that ignored `--version`).
const TRIVIAL_RUN_LIMIT: Duration = Duration::from_secs(30);

/// `--engine`, or the first of [`ENGINES`] found on `PATH`.
pub fn find_engine(requested: Option<&str>) -> Result<String> {
    if let Some(engine) = requested {
        if !ENGINES.contains(&engine) {
            bail!("--engine {engine}: podman or docker");
        }
        return Ok(engine.to_string());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    ENGINES
        .iter()
        .find(|engine| std::env::split_paths(&path).any(|dir| dir.join(engine).is_file()))
        .map(|engine| engine.to_string())
        .context("the lab has container targets, and neither podman nor docker is on PATH")
}

/// One container target as the run starts it.
#[derive(Debug, Clone)]
pub struct ContainerRun {
    pub spec: ContainerSpec,
    pub engine: String,
}

impl ContainerRun {
    /// The engine's argv that runs the image as container `name`: the environment passed by
    /// name (its values are in the engine's own environment), `start` after the image.
    pub fn argv(
        &self,
        name: &str,
        env: &[String],
        database_url: Option<&str>,
        start: &[String],
    ) -> Result<Vec<String>> {
        let spec = &self.spec;
        let mut argv = vec![
            self.engine.clone(),
            "run".into(),
            format!("--name={name}"),
            "--network=host".into(),
            format!("--cpus={}", spec.cpus),
            format!("--memory={}", spec.memory_bytes),
            // No swap beyond the limit (both engines default to twice it): a task that outgrows
            // its memory is killed, as Fargate kills it, rather than slowed by swapping.
            format!("--memory-swap={}", spec.memory_bytes),
        ];
        if let Some(dir) = database_url.and_then(socket_dir) {
            let owner = std::fs::metadata(&dir)
                .with_context(|| format!("the database's socket directory {dir}"))?;
            argv.push(format!("--user={}:{}", owner.uid(), owner.gid()));
            argv.push(format!("--volume={dir}:{dir}"));
        }
        argv.extend(env.iter().map(|name| format!("--env={name}")));
        argv.extend(spec.engine_args.iter().cloned());
        argv.push(spec.image.clone());
        argv.extend(start.iter().cloned());
        Ok(argv)
    }

    /// Whether container `name`, which ferry has not stopped, was killed for running out of
    /// memory: the kernel's count in its cgroup while it lives; once its first process is
    /// gone (and the cgroup with it), the engine's `OOMKilled`, or an exit by SIGKILL (137),
    /// which only the OOM killer sends it (podman with runc on cgroup v1 does not always
    /// record `OOMKilled`).
    pub fn oom_killed(&self, name: &str, cgroup: Option<&Cgroup>) -> bool {
        if cgroup.is_some_and(|cgroup| cgroup.oom_kills() > 0) {
            return true;
        }
        let format = "{{.State.OOMKilled}} {{.State.Status}} {{.State.ExitCode}}";
        Command::new(&self.engine)
            .args(["inspect", "--format", format, name])
            .output()
            .is_ok_and(|output| inspect_says_oom(&String::from_utf8_lossy(&output.stdout)))
    }

    /// Runs `variant` (the image and its arguments) as container `name`: whether it exited
    /// with success within [`TRIVIAL_RUN_LIMIT`]. One that runs on (an image whose binary
    /// ignores `--version` and serves) is killed and counts as a failure.
    fn run_bounded(&self, name: &str, variant: &[&str]) -> Result<bool> {
        let mut child = Command::new(&self.engine)
            .args(["run", "--network=host", &format!("--name={name}")])
            .args(variant)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("{} run {}", self.engine, self.spec.image))?;
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status.success());
            }
            if started.elapsed() > TRIVIAL_RUN_LIMIT {
                self.remove(name);
                let _ = child.kill();
                let _ = child.wait();
                return Ok(false);
            }
            // Polled every millisecond: the start is measured to within one.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Removes container `name` at once, if it is still there.
    pub fn remove(&self, name: &str) {
        let mut command = Command::new(&self.engine);
        command.args(["rm", "--force"]);
        if self.engine == "podman" {
            command.args(["--time", "0"]);
        }
        let _ = command
            .arg(name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The cgroup of running container `name`, from its first process's `/proc/PID/cgroup`.
    pub fn cgroup(&self, name: &str) -> Result<Cgroup> {
        let output = Command::new(&self.engine)
            .args(["inspect", "--format", "{{.State.Pid}}", name])
            .output()
            .with_context(|| format!("{} inspect {name}", self.engine))?;
        let pid = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() || pid == "0" {
            bail!(
                "{} inspect {name}: {}",
                self.engine,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .with_context(|| format!("reading the cgroup of container {name} (pid {pid})"))?;
        Cgroup::from_proc(&text, Path::new("/sys/fs/cgroup"))
            .with_context(|| format!("container {name}'s cgroup (pid {pid}): {text}"))
    }

    /// The median time of the engine's run of a trivial command from the image, to its exit:
    /// `true`, or else the entrypoint's `--version`, or else its `--help`.
    pub fn trivial_start_ms(&self, name: &str, repeats: u32) -> Result<f64> {
        let variants: [&[&str]; 3] = [
            &["--entrypoint=true", &self.spec.image],
            &[&self.spec.image, "--version"],
            &[&self.spec.image, "--help"],
        ];
        for variant in variants {
            let mut samples = Vec::new();
            for _ in 0..repeats.max(1) {
                // A container of that name left by a killed run would make `run` fail.
                self.remove(name);
                let started = Instant::now();
                let exited = self.run_bounded(name, variant)?;
                let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                self.remove(name);
                if !exited {
                    break;
                }
                samples.push(elapsed);
            }
            if samples.len() == repeats.max(1) as usize {
                samples.sort_by(f64::total_cmp);
                return Ok(samples[samples.len() / 2]);
            }
        }
        bail!(
            "{} has neither `true` nor an entrypoint that answers --version or --help",
            self.spec.image
        )
    }
}

/// `"2g"`, `"512m"`, `"65536k"` or a number of bytes, as the engines read `--memory`.
pub fn parse_memory(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_suffix('b').unwrap_or(&text);
    let (number, unit) = match text.char_indices().last()? {
        (at, 'k') => (&text[..at], 1u64 << 10),
        (at, 'm') => (&text[..at], 1 << 20),
        (at, 'g') => (&text[..at], 1 << 30),
        _ => (text, 1),
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value > 0.0).then_some((value * unit as f64) as u64)
}

/// The directory of a PostgreSQL URL's Unix socket: its `host` query parameter, when a path.
fn socket_dir(database_url: &str) -> Option<String> {
    let query = database_url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, value)| *key == "host" && value.starts_with('/'))
        .map(|(_, value)| value.to_string())
}

/// A container's cgroup: the files its CPU and memory are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    /// cgroup v1: the `cpuacct` and `memory` controllers' folders.
    V1 { cpuacct: PathBuf, memory: PathBuf },
    /// cgroup v2: the unified folder.
    V2(PathBuf),
}

impl Cgroup {
    /// From `/proc/PID/cgroup`: the v1 controllers when both are mounted, else the v2 path
    /// (under `root/unified` on a hybrid machine).
    pub fn from_proc(text: &str, root: &Path) -> Option<Cgroup> {
        let mut cpuacct = None;
        let mut memory = None;
        let mut unified = None;
        for line in text.lines() {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let path = path.trim_start_matches('/');
            for controller in controllers.split(',') {
                match controller {
                    "cpuacct" => cpuacct = Some(root.join(controllers).join(path)),
                    "memory" => memory = Some(root.join("memory").join(path)),
                    "" => unified = Some(path.to_string()),
                    _ => {}
                }
            }
        }
        if let (Some(cpuacct), Some(memory)) = (cpuacct, memory)
            && cpuacct.join("cpuacct.usage").exists()
        {
            return Some(Cgroup::V1 { cpuacct, memory });
        }
        let base = if root.join("unified").is_dir() {
            root.join("unified")
        } else {
            root.to_path_buf()
        };
        Some(Cgroup::V2(base.join(unified?)))
    }

    /// CPU seconds used so far, and anonymous (RSS) memory now, page cache excluded.
    pub fn read(&self) -> Option<(f64, u64)> {
        match self {
            Cgroup::V1 { cpuacct, memory } => {
                let nanos: u64 = read_trimmed(&cpuacct.join("cpuacct.usage"))?.parse().ok()?;
                let stat = std::fs::read_to_string(memory.join("memory.stat")).ok()?;
                Some((nanos as f64 / 1e9, stat_field(&stat, "total_rss")?))
            }
            Cgroup::V2(dir) => {
                let cpu = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
                let memory = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
                let micros = stat_field(&cpu, "usage_usec")?;
                Some((micros as f64 / 1e6, stat_field(&memory, "anon")?))
            }
        }
    }

    /// The kernel's count of OOM kills in the cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (file, dir) = match self {
            Cgroup::V1 { memory, .. } => ("memory.oom_control", memory),
            Cgroup::V2(dir) => ("memory.events", dir),
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| stat_field(&text, "oom_kill"))
            .unwrap_or(0)
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    Some(std::fs::read_to_string(path).ok()?.trim().to_string())
}

/// The value of `key` in a `key value` per line file.
fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Cgroup, inspect_says_oom, parse_memory, socket_dir, stat_field};

    #[test]
    fn an_oom_is_read_from_inspect_and_nothing_printed_is_none() {
        assert!(inspect_says_oom("true exited 137\n"));
        assert!(inspect_says_oom("false exited 137\n"));
        assert!(!inspect_says_oom("false exited 0\n"));
        assert!(!inspect_says_oom("false running 0\n"));
        // The container already gone: the engine prints nothing (this panicked before).
        assert!(!inspect_says_oom(""));
    }

    #[test]
    fn the_socket_directory_is_the_urls_host_parameter() {
        let url = "postgres://ferry@localhost/lab?host=/tmp/pg.abc&sslmode=disable";
        assert_eq!(socket_dir(url).as_deref(), Some("/tmp/pg.abc"));
        assert_eq!(socket_dir("postgres://u@127.0.0.1:5432/lab"), None);
    }

    #[test]
    fn a_v2_only_cgroup_is_the_unified_path() {
        let text = "0::/machine.slice/libpod-abc.scope\n";
        let root = Path::new("/nonexistent-root");
        assert_eq!(
            Cgroup::from_proc(text, root),
            Some(Cgroup::V2(root.join("machine.slice/libpod-abc.scope")))
        );
    }

    #[test]
    fn stat_fields_are_read_by_name() {
        let text = "cache 4096\nrss 8192\ntotal_rss 12288\n";
        assert_eq!(stat_field(text, "total_rss"), Some(12288));
        assert_eq!(stat_field(text, "rss"), Some(8192));
        assert_eq!(stat_field(text, "anon"), None);
    }

    #[test]
    fn memory_limits_read_as_the_engines_read_them() {
        assert_eq!(parse_memory("2g"), Some(2 << 30));
        assert_eq!(parse_memory("512m"), Some(512 << 20));
        assert_eq!(parse_memory("1.5G"), Some(3 << 29));
        assert_eq!(parse_memory("4096"), Some(4096));
        assert_eq!(parse_memory("two gigs"), None);
        assert_eq!(parse_memory("-1g"), None);
    }
}
