//! Same data for every run: before each measured run, capacity probe and long run, the lab's
//! databases are put back as setup left them (`[database] reset`, docs/ferry.md "Database
//! reset"). Without it, the rows one run's writes add are read by every later run, and the
//! targets measured later serve other data than the ones measured first.
//!
//! A database cannot be dropped or copied while sessions are connected, and a target's caches
//! would outlive its data. So a reset stops every started target, restores each database from
//! the snapshot taken right after setup, and starts again only the target to be measured; the
//! others stay stopped until their own turn. None of it is inside a measured window, and the
//! restart is not a cold start (those were measured before, by `cold_start.rs`).

use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::lab::placeholders::names;
use super::lab::{Lab, RequestSource, ResetMode, TargetKind};
use super::phases::Run;
use super::settings::CompareSettings;

/// The methods that may change a database: a lab with a scenario sending one is reset under
/// `reset = "auto"`.
const WRITES: [&str; 4] = ["POST", "PUT", "PATCH", "DELETE"];

/// A guess at one reset (stopping the targets, restoring the databases, starting the target
/// again), for the plan's estimate only; docs/ferry.md has measured figures.
pub const RESET_GUESS: Duration = Duration::from_secs(1);

/// The least warm-up of a run on a target just started again: a restart throws away what a
/// JIT compiled (V8's optimised code), and a run's own warm-up may be shorter than the time it
/// takes to come back (`--quick`'s 0.5 s, a capacity probe's 1 s). Measured on the default
/// lab under `--quick`: the Node baseline restarted for a capacity probe answered 1,517/s at
/// p99 165 ms after 0.5 s of warm-up, against a p99 of 4.7 ms at 216/s of a warmer target.
pub const RESTART_WARMUP: Duration = Duration::from_secs(3);

/// Whether a run of a scenario that `writes` starts from a restore, `dirty` saying whether a
/// run that may have written has run since the last one. Every run of a writing scenario
/// does, its first included, so that each target meets it alike: restored and just started
/// (a run of a reading scenario right after a write is the same for all targets too: the
/// first one's reset stops the others, which start again at their turn).
fn restore_due(always: bool, dirty: bool, writes: bool) -> bool {
    always || dirty || writes
}

fn is_write(method: &str) -> bool {
    WRITES.contains(&method.to_ascii_uppercase().as_str())
}

/// `settings.database_reset` of compare.json: whether the runs were reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetSetting {
    On,
    /// Also what a report written before resets existed means.
    #[default]
    Off,
}

/// What the resets of a run know and have done.
#[derive(Debug, Default)]
pub struct Resets {
    on: bool,
    /// `reset = "always"`: before every run, whether the last one wrote or not.
    always: bool,
    /// Per scenario (in the lab's order): whether it sends a write.
    writes: Vec<bool>,
    /// A run that may have written has run since the last restore.
    dirty: bool,
    count: u32,
    restarts: u32,
    stopping: Duration,
    restoring: Duration,
    restarting: Duration,
    /// The index in the report's notes of the line that counts the resets.
    note: Option<usize>,
}

impl Run<'_> {
    /// After setup, before any target starts: decides whether runs are reset (a `requests`
    /// file is read by then, so its methods count) and takes the snapshots.
    pub(super) fn prepare_resets(&mut self) -> Result<()> {
        let writes: Vec<bool> = self
            .prepared
            .iter()
            .map(|prepared| {
                prepared
                    .targets
                    .iter()
                    .any(|target| is_write(&target.method))
            })
            .collect();
        let writers: Vec<&str> = self
            .prepared
            .iter()
            .zip(&writes)
            .filter(|(_, writes)| **writes)
            .map(|(prepared, _)| prepared.spec.name.as_str())
            .collect();
        let mode = self.lab.database.as_ref().map(|spec| spec.reset);
        let wanted = match mode {
            Some(ResetMode::Always) => true,
            Some(ResetMode::Auto) => !writers.is_empty(),
            Some(ResetMode::Never) | None => false,
        };
        let writing = format!(
            "scenario(s) {} send POST, PUT, PATCH or DELETE",
            writers.join(", ")
        );
        if !wanted {
            if !writers.is_empty() {
                self.report.notes.push(match mode {
                    None => format!(
                        "Database reset off: {writing}, but the lab has no [database] for ferry \
                         to reset; each run saw what earlier runs wrote."
                    ),
                    _ => format!(
                        "Database reset off ([database] reset = \"never\"): {writing}; each run \
                         saw what earlier runs wrote."
                    ),
                });
            }
            return Ok(());
        }
        let fixed: Vec<&str> = self
            .lab
            .targets
            .iter()
            .filter(|target| !matches!(target.kind, TargetKind::Started { .. }))
            .map(|target| target.name.as_str())
            .collect();
        if !fixed.is_empty() {
            self.report.notes.push(format!(
                "Database reset off: {} already running (attached or remote), and ferry cannot \
                 restart a target, while a database cannot be restored under its sessions; each \
                 run saw what earlier runs wrote.",
                fixed.join(", ")
            ));
            return Ok(());
        }
        let database = self
            .database
            .as_mut()
            .context("a lab with [database] has its database started before setup")?;
        if !database.is_embedded() {
            self.report.notes.push(
                "Database reset: the shared database of DATABASE_URL ({database_url}) is not \
                 ferry's, so it is never reset; only the databases ferry created \
                 ({database_url:NAME}) are."
                    .into(),
            );
        }
        let databases = database.resettable()?;
        if databases.is_empty() {
            return Ok(());
        }
        self.progress.phase("database snapshot for the resets…");
        database.snapshot(&databases)?;
        self.report.settings.database_reset = ResetSetting::On;
        let always = mode == Some(ResetMode::Always);
        let when = if always {
            "before every measured run, capacity probe and long run ([database] reset = \"always\")"
                .to_string()
        } else {
            format!(
                "before each measured run, capacity probe and long run of a scenario that \
                 writes ({writing}) and before the first one after it"
            )
        };
        self.report.notes.push(format!(
            "Database reset on: {when}, ferry stopped every started target, restored database(s) \
             {} from a copy taken after setup, and started the target to be measured again (not \
             a cold start; outside every measured window).",
            databases.join(", ")
        ));
        self.resets = Resets {
            on: true,
            always,
            writes,
            ..Resets::default()
        };
        Ok(())
    }

    /// Before a run of scenario `scenario` (its index in the lab) on target `target`: the
    /// databases as setup left them, and the target running.
    /// Also where a Ctrl-C stops the run between runs.
    /// Returns the warm-up the run needs: `warmup`, or at least [`RESTART_WARMUP`] when the
    /// target was just started again.
    pub(super) fn reset_before(
        &mut self,
        scenario: usize,
        target: usize,
        warmup: Duration,
    ) -> Result<Duration> {
        if !self.resets.on {
            self.check()?;
            return Ok(warmup);
        }
        let name = self.live[target].name.clone();
        let writes = self.resets.writes.get(scenario).copied().unwrap_or(true);
        if restore_due(self.resets.always, self.resets.dirty, writes) {
            self.progress
                .phase(format!("database reset before {name}…"));
            self.stop_targets();
            let database = self
                .database
                .as_ref()
                .context("resets are on only with a database")?;
            self.resets.restoring += database.restore()?;
            self.resets.count += 1;
        }
        self.resets.dirty = writes;
        let mut warmup = warmup;
        if self.live[target].running.is_none() {
            self.restart(target)
                .with_context(|| format!("starting {name} again after a database reset"))?;
            warmup = warmup.max(RESTART_WARMUP);
        }
        self.count_note();
        self.check()?;
        Ok(warmup)
    }

    /// Stops every started target, so that no session is left on the databases. Killed, as
    /// between cold starts: what a graceful stop would finish (drain requests, flush to the
    /// database) is thrown away with the data, and a drain would only add to the reset's time.
    fn stop_targets(&mut self) {
        let clock = std::time::Instant::now();
        for live in &mut self.live {
            if let Some(running) = live.running.take() {
                running.kill();
            }
        }
        self.resets.stopping += clock.elapsed();
    }

    /// Starts target `index` again, as it was started for the scenarios, on a new port.
    pub(super) fn restart(&mut self, index: usize) -> Result<()> {
        let clock = std::time::Instant::now();
        let started = self.lab.targets[..index]
            .iter()
            .filter(|target| matches!(target.kind, TargetKind::Started { .. }))
            .count();
        let launch = self
            .launches()
            .into_iter()
            .nth(started)
            .context("resets are on only when every target is started by ferry")?;
        let mut running = launch.spawn(&self.logs.join(format!("{}.log", launch.name)))?;
        running.wait_ready()?;
        let live = &mut self.live[index];
        live.base_url = running.base_url();
        live.gauge = running.gauge();
        live.running = Some(running);
        self.resets.restarting += clock.elapsed();
        self.resets.restarts += 1;
        // A new process knows none of the sessions the last one issued: log in again.
        self.after_start(index)
    }

    /// The note that counts the resets and their cost, kept up to date after each.
    fn count_note(&mut self) {
        let resets = &self.resets;
        if resets.count == 0 {
            return;
        }
        let each = |total: Duration, count: u32| total.as_secs_f64() / f64::from(count.max(1));
        let text = format!(
            "Database resets: {}, {:.2} s each on average (stopping the targets {:.2} s, \
             restoring the databases {:.2} s), and {} restarts of a target, {:.2} s each.",
            resets.count,
            each(resets.stopping + resets.restoring, resets.count),
            each(resets.stopping, resets.count),
            each(resets.restoring, resets.count),
            resets.restarts,
            each(resets.restarting, resets.restarts)
        );
        match resets.note {
            Some(index) if index < self.report.notes.len() => self.report.notes[index] = text,
            _ => {
                self.resets.note = Some(self.report.notes.len());
                self.report.notes.push(text);
            }
        }
    }
}

/// What the plan says of the resets, before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Why there will be none.
    Off(&'static str),
    /// How many, counted as the run does them; `at_most` when a `requests` file is written by
    /// setup (its methods unknown until then, taken as writes).
    On { resets: u32, at_most: bool },
}

/// The resets a run of `lab` with `settings` will do, from the lab alone.
pub fn planned(lab: &Lab, settings: &CompareSettings) -> Planned {
    let Some(spec) = &lab.database else {
        return Planned::Off("the lab has no [database]");
    };
    // Per scenario: whether it writes, or `None` while its requests file does not exist yet.
    let writes: Vec<Option<bool>> = lab
        .scenarios
        .iter()
        .map(|scenario| match &scenario.requests {
            RequestSource::One { method, .. } => Some(is_write(method)),
            RequestSource::File(file) if names(file).is_empty() => {
                crate::load::target::load_target_file(&lab.dir.join(file))
                    .ok()
                    .map(|targets| targets.iter().any(|target| is_write(&target.method)))
            }
            RequestSource::File(_) => None,
            RequestSource::Flow(steps) => Some(steps.iter().any(|step| {
                step.request
                    .split_once(' ')
                    .is_some_and(|(method, _)| is_write(&method.to_ascii_uppercase()))
            })),
        })
        .collect();
    let may_write = |index: usize| writes.get(index).copied().flatten().unwrap_or(true);
    let on = match spec.reset {
        ResetMode::Never => return Planned::Off("[database] reset = \"never\""),
        ResetMode::Always => true,
        ResetMode::Auto => (0..writes.len()).any(may_write),
    };
    if !on {
        return Planned::Off("no scenario sends POST, PUT, PATCH or DELETE");
    }
    if lab
        .targets
        .iter()
        .any(|target| !matches!(target.kind, TargetKind::Started { .. }))
    {
        return Planned::Off("a target is already running, and ferry cannot restart it");
    }
    // The runs in the order the run does them, by scenario index.
    let targets = lab.targets.len();
    let mut order = Vec::new();
    for (index, _) in lab.scenarios.iter().enumerate() {
        order.extend(std::iter::repeat_n(
            index,
            settings.rounds as usize * targets,
        ));
    }
    for (index, scenario) in lab.scenarios.iter().enumerate() {
        if scenario.capacity {
            order.extend(std::iter::repeat_n(
                index,
                settings.capacity_probes as usize * targets,
            ));
        }
    }
    if settings.long_run.is_some() && !lab.scenarios.is_empty() {
        order.extend(std::iter::repeat_n(0, targets));
    }
    let always = spec.reset == ResetMode::Always;
    let (mut resets, mut dirty) = (0, false);
    for index in order {
        let writes = may_write(index);
        resets += u32::from(restore_due(always, dirty, writes));
        dirty = writes;
    }
    Planned::On {
        resets,
        at_most: writes.contains(&None),
    }
}
