//! The phases of a comparison, one function each, in the order [`Run::phases`] calls them:
//! database, setup, targets (cold start, or attach: `bring_up.rs`), scenarios alternated A B C A B C,
//! capacity at the SLO, the long runs of `--thorough`, the `pgbench` reference.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::load::RateSchedule;

use super::compare_json::{CompareReport, ScenarioReport};
use super::database::Database;
use super::lab::{Lab, builtin, rate};
use super::live::LiveTarget;
use super::requests::{Prepared, prepare};
use super::run_progress::RunProgress;
use super::settings::CompareSettings;
use super::{capacity, pgbench, scenarios, setup};

/// One comparison in progress: what it has started, what it knows, what it measured.
pub struct Run<'a> {
    pub lab: &'a Lab,
    pub settings: &'a CompareSettings,
    pub stop: Arc<AtomicBool>,
    pub progress: RunProgress,
    /// The values of the lab's `secrets`, masked in everything written.
    pub mask: super::secrets::Mask,
    pub report: CompareReport,
    pub logs: PathBuf,
    /// The placeholders known so far.
    pub values: BTreeMap<String, String>,
    pub database: Option<Database>,
    pub live: Vec<LiveTarget>,
    pub prepared: Vec<Prepared>,
    /// Whether and when the databases are put back as setup left them (`reset.rs`).
    pub resets: super::reset::Resets,
    /// `[[background]]` processes, running from the targets' start to the end.
    pub background: Vec<super::background::Background>,
}

impl Run<'_> {
    pub fn phases(&mut self) -> Result<()> {
        self.start_database()?;
        self.contact_https_targets()?;
        self.setup()?;
        self.prepare_scenarios()?;
        self.prepare_resets()?;
        self.start_targets()?;
        self.start_background()?;
        self.scenarios()?;
        self.capacities()?;
        self.long_runs()?;
        self.pgbench()
    }

    pub(super) fn check(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            bail!("interrupted (Ctrl-C)");
        }
        Ok(())
    }

    fn start_database(&mut self) -> Result<()> {
        if self.lab.database.is_none() {
            return Ok(());
        }
        self.progress.phase("starting PostgreSQL…");
        let database = Database::start(self.settings.database_url.as_deref())?;
        self.report.database = Some(database.description.clone());
        if database.gauge().is_none() {
            self.report.notes.push(
                "The database's CPU was not sampled: it is an external server (DATABASE_URL), \
                 not a process on this machine that ferry started; CPU per request counts the \
                 targets alone."
                    .into(),
            );
        }
        self.values
            .insert(builtin::DATABASE_URL.into(), database.url.clone());
        let mut database = database;
        for name in &self.lab.databases {
            let url = database.create_named(name)?;
            self.values
                .insert(format!("{}:{name}", builtin::DATABASE_URL), url);
        }
        self.database = Some(database);
        self.progress.advance();
        self.check()
    }

    fn setup(&mut self) -> Result<()> {
        let log = self.logs.join("setup.log");
        for step in &self.lab.setup {
            self.progress.phase(format!("setup: {}…", step.name));
            let stdout = setup::run_step(self.lab, step, &self.values, &log, &self.mask)?;
            if let Some(output) = &step.output {
                self.values
                    .insert(output.clone(), stdout.trim().to_string());
                self.mask.learn(&self.lab.secrets, &self.values);
            }
            self.progress.advance();
            self.check()?;
        }
        Ok(())
    }

    fn prepare_scenarios(&mut self) -> Result<()> {
        for scenario in &self.lab.scenarios {
            let prepared = prepare(self.lab, scenario, &self.values, self.settings)
                .with_context(|| format!("scenario `{}`", scenario.name))?;
            self.report.notes.extend(prepared.notes.iter().cloned());
            self.prepared.push(prepared);
        }
        Ok(())
    }

    /// The slowest target's closed-model throughput in scenario `name`.
    fn slowest(&self, name: &str) -> Option<f64> {
        self.report
            .targets
            .iter()
            .filter_map(|t| t.scenario(name))
            .filter(|s| s.valid)
            .map(|s| s.summary.throughput_rps)
            .filter(|rps| *rps > 0.0)
            .reduce(f64::min)
    }

    fn seed(&self, scenario: usize, round: u32, target: usize) -> u64 {
        // A seed of its own for every run, so that generated values never repeat across runs.
        self.report
            .started_at_unix_ms
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(((scenario as u64) << 40) | (u64::from(round) << 20) | target as u64)
    }

    fn scenarios(&mut self) -> Result<()> {
        for (scenario_index, prepared) in self.prepared.clone().iter().enumerate() {
            let spec = &prepared.spec;
            let schedule = match &spec.rate {
                Some(text) => {
                    let reference = spec
                        .relative_to
                        .as_deref()
                        .and_then(|name| self.slowest(name));
                    if spec.relative_to.is_some() && reference.is_none() {
                        bail!(
                            "scenario {}: `{}` measured no throughput to be relative to",
                            spec.name,
                            spec.relative_to.as_deref().unwrap_or("")
                        );
                    }
                    Some(rate::resolve(text, reference, prepared.stretch)?)
                }
                None => None,
            };
            for round in 1..=self.settings.rounds {
                for target_index in 0..self.live.len() {
                    let warmup =
                        self.reset_before(scenario_index, target_index, self.settings.warmup)?;
                    let live = &self.live[target_index];
                    self.progress.phase(format!(
                        "{}: {} round {round}/{}",
                        spec.name, live.name, self.settings.rounds
                    ));
                    let load = prepared.load_settings(
                        live,
                        schedule.as_deref().map(RateSchedule::parse).transpose()?,
                        spec.connections,
                        warmup,
                        self.seed(scenario_index, round, target_index),
                    );
                    let database = self.database.as_ref().and_then(Database::gauge);
                    let idle = super::idle::open(live, spec.idle_connections)
                        .with_context(|| format!("{}: idle connections", spec.name))?;
                    let run = scenarios::run_round(
                        &load,
                        live,
                        database.as_ref(),
                        round,
                        self.stop.clone(),
                    )
                    .with_context(|| format!("{} against {}", spec.name, live.name))?;
                    drop(idle);
                    let totals = &run.result.totals;
                    self.progress.note(format!(
                        "{:<16} {:<14} round {round}: {:>9.0} req/s  p99 {:>8}  errors {}  CPU {:.0}%  RSS {:.1} MiB",
                        spec.name,
                        live.name,
                        run.result.unit_throughput_rps(),
                        crate::units::format_micros(run.result.unit_latency().p99_us as f64),
                        totals.error_count + totals.dropped,
                        run.cpu_mean_percent,
                        run.rss_peak_bytes as f64 / 1_048_576.0
                    ));
                    let target = &mut self.report.targets[target_index];
                    if target.scenario(&spec.name).is_none() {
                        target.scenarios.push(ScenarioReport {
                            scenario: spec.name.clone(),
                            title: spec.title.clone(),
                            schedule: schedule.clone(),
                            summary: Default::default(),
                            rounds: Vec::new(),
                            capacity: None,
                            valid: true,
                            invalid_reason: None,
                        });
                    }
                    let entry = target
                        .scenarios
                        .iter_mut()
                        .find(|s| s.scenario == spec.name)
                        .context("the scenario entry was pushed just above")?;
                    let oom = super::oom::oom_mark(entry.invalid_reason.as_ref());
                    entry.rounds.push(run);
                    entry.summary = scenarios::summarise_rounds(&entry.rounds)?;
                    entry.judge_validity(self.lab.slo.error_ratio);
                    self.after_round_oom(target_index, &spec.name, oom)?;
                    let entry = self.report.targets[target_index]
                        .scenario(&spec.name)
                        .context("the scenario entry was pushed just above")?;
                    let oom = super::oom::oom_mark(entry.invalid_reason.as_ref());
                    if let (Some(reason), None) = (&entry.invalid_reason, oom) {
                        self.progress.note(format!(
                            "{} on {}: {reason} (above the SLO's error bound of {} %)",
                            spec.name,
                            self.live[target_index].name,
                            crate::units::format_percent(self.lab.slo.error_ratio * 100.0)
                        ));
                    }
                    self.progress.advance();
                    self.check()?;
                }
            }
        }
        Ok(())
    }

    fn capacities(&mut self) -> Result<()> {
        let slo = self.lab.slo;
        for (scenario_index, prepared) in self.prepared.clone().iter().enumerate() {
            if !prepared.spec.capacity {
                continue;
            }
            let name = &prepared.spec.name;
            for target_index in 0..self.live.len() {
                let own = self.report.targets[target_index]
                    .scenario(name)
                    .map_or(1000.0, |s| s.summary.throughput_rps.max(10.0));
                let mut probe_number = 0;
                let settings = self.settings;
                let database = self.database.as_ref().and_then(Database::gauge);
                let found = capacity::search(
                    own * 0.1,
                    own * 1.5,
                    settings.capacity_probes,
                    slo.p99.as_micros() as u64,
                    slo.error_ratio,
                    |rate| {
                        probe_number += 1;
                        let warmup = self.reset_before(
                            scenario_index,
                            target_index,
                            settings.warmup.min(Duration::from_secs(1)),
                        )?;
                        let live = &self.live[target_index];
                        self.progress.phase(format!(
                            "capacity of {name}: {} probe {probe_number}/{} at {rate:.0}/s",
                            live.name, settings.capacity_probes
                        ));
                        let mut load = prepared.load_settings(
                            live,
                            Some(RateSchedule::constant(rate)),
                            prepared.spec.connections * 2,
                            warmup,
                            self.seed(100 + scenario_index, probe_number, target_index),
                        );
                        load.duration = Some(settings.probe_duration);
                        let run = scenarios::run_round(
                            &load,
                            live,
                            database.as_ref(),
                            probe_number,
                            self.stop.clone(),
                        )?;
                        let oom_kill = self.after_probe_oom(target_index, name, rate)?;
                        self.progress.advance();
                        Ok(capacity::ProbeRun { run, oom_kill })
                    },
                )?;
                let verdict = match found.bracket_text() {
                    Some(bracket) => format!("{} ({bracket})", found.text()),
                    None => found.text(),
                };
                self.progress.note(format!(
                    "capacity of {name}, {} at p99 ≤ {} ms: {verdict}",
                    self.live[target_index].name,
                    slo.p99.as_secs_f64() * 1000.0
                ));
                if let Some(entry) = self.report.targets[target_index]
                    .scenarios
                    .iter_mut()
                    .find(|s| s.scenario == *name)
                {
                    entry.capacity = Some(found);
                }
                self.check()?;
            }
        }
        self.report.cost = super::cost::section(&self.report, self.settings.target_rps)?;
        Ok(())
    }

    /// `--thorough`: one long run per target of the first scenario, alternated like the rest.
    fn long_runs(&mut self) -> Result<()> {
        let (Some(length), Some(prepared)) =
            (self.settings.long_run, self.prepared.first().cloned())
        else {
            return Ok(());
        };
        for target_index in 0..self.live.len() {
            let warmup = self.reset_before(0, target_index, self.settings.warmup)?;
            let live = &self.live[target_index];
            self.progress.phase(format!(
                "long run of {}: {} ({:.0} s)",
                prepared.spec.name,
                live.name,
                length.as_secs_f64()
            ));
            let mut load = prepared.load_settings(
                live,
                None,
                prepared.spec.connections,
                warmup,
                self.seed(200, 1, target_index),
            );
            load.duration = Some(length);
            let database = self.database.as_ref().and_then(Database::gauge);
            let run = scenarios::run_round(&load, live, database.as_ref(), 1, self.stop.clone())?;
            self.report.targets[target_index].long_run = Some(run);
            self.progress.advance();
            self.check()?;
        }
        Ok(())
    }

    fn pgbench(&mut self) -> Result<()> {
        let (Some(database), Some(duration)) = (&self.database, self.settings.pgbench_duration)
        else {
            return Ok(());
        };
        let Some(clients) = self
            .lab
            .database
            .as_ref()
            .filter(|spec| spec.pgbench)
            .map(|spec| spec.pgbench_clients.clone())
        else {
            return Ok(());
        };
        self.progress.phase("pgbench -S on the same database…");
        match pgbench::run(
            database,
            self.settings.pgbench_scale,
            &clients,
            duration,
            &self.logs.join("pgbench.log"),
        ) {
            Ok(result) => {
                self.progress.note(format!(
                    "pgbench -S: {:.0} tps (best, at {} clients)",
                    result.tps, result.clients
                ));
                let first = self
                    .lab
                    .scenarios
                    .first()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for target in &mut self.report.targets {
                    target.pgbench_fraction = target
                        .scenario(&first)
                        .map(|s| s.summary.throughput_rps / result.tps.max(1.0));
                }
                self.report.pgbench = Some(result);
            }
            Err(error) => {
                let note = format!("pgbench reference skipped: {error:#}");
                self.progress.note(&note);
                self.report.notes.push(note);
            }
        }
        self.progress.advance();
        Ok(())
    }
}
