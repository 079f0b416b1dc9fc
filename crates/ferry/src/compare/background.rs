//! `[[background]]`: processes that run beside the measurements (busy loops competing for the
//! CPU, a noisy neighbour), started once the targets are up and stopped, each with its whole
//! process group, when the run ends, whatever way it ends. Their output goes to
//! `logs/background.log`.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pg_embedded::spawn_tied;

use super::lab::{Lab, SetupStep};
use super::phases::Run;
use super::secrets::Mask;
use super::setup::step_command;

/// How long a background process has to exit after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// A background process, killed with its group when dropped.
pub struct Background {
    pub name: String,
    child: Option<Child>,
}

impl Run<'_> {
    /// Starts every `[[background]]` process, in order.
    pub(super) fn start_background(&mut self) -> Result<()> {
        let log = self.logs.join("background.log");
        for step in &self.lab.background {
            self.progress
                .phase(format!("starting background process `{}`…", step.name));
            let started = start(self.lab, step, &self.values, &log, &self.mask)?;
            self.background.push(started);
        }
        Ok(())
    }
}

fn start(
    lab: &Lab,
    step: &SetupStep,
    values: &BTreeMap<String, String>,
    log: &Path,
    mask: &Mask,
) -> Result<Background> {
    let (mut command, _) = step_command(lab, step, values)?;
    let program = command.get_program().to_string_lossy().into_owned();
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = spawn_tied(command, Signal::SIGKILL)
        .with_context(|| format!("background process `{}`: starting {program}", step.name))?;
    if let Some(stdout) = child.stdout.take() {
        mask.pipe(
            stdout,
            file.try_clone().context("sharing the background log")?,
        );
    }
    if let Some(stderr) = child.stderr.take() {
        mask.pipe(stderr, file);
    }
    Ok(Background {
        name: step.name.clone(),
        child: Some(child),
    })
}

impl Background {
    /// SIGTERM to its group, SIGKILL after [`STOP_TIMEOUT`]; an error when it had already
    /// ended on its own (it did not run beside every measurement).
    pub fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let early = child.try_wait().context("checking a background process")?;
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever it started goes too, even what ignored SIGTERM.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = child.wait();
        if let Some(status) = early {
            bail!(
                "background process `{}` ended before the run did ({status}): see logs/background.log",
                self.name
            );
        }
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}
