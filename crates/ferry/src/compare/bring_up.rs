//! The targets phase: cold starts of the targets ferry starts (alternated, the last start of
//! each kept running), then the targets that are already running, attached as they are.
//! Those that are `https` are contacted once before setup (a TLS handshake), so that a
//! certificate refused stops the run before anything is spent on it. Each target's
//! `after_start` steps run once it is up (`after_start.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::load::request::RequestPlan;
use crate::load::settings::HttpVersion;
use crate::load::tls::TlsClient;
use crate::load::{Target, TlsOptions};

use super::cold_start::{self, ColdStart};
use super::container::ContainerRun;
use super::lab::placeholders::{expand, names};
use super::lab::{ContainerSpec, builtin};
use super::lab::{LabTarget, PidSource, TargetKind};
use super::live::{Gauge, LiveTarget};
use super::phases::Run;
use super::targets::{Launch, Running};

/// How long the contact with an attached or remote `https` target may take.
const CONTACT_TIMEOUT: Duration = Duration::from_secs(10);

impl Run<'_> {
    /// Contacts every attached or remote `https` target once (a TLS handshake): before
    /// setup those whose `url` is known then, and later, when attached, those whose `url`
    /// uses a setup step's output. A certificate refused stops the run (exit 1).
    pub(super) fn contact_https_targets(&self) -> Result<()> {
        for target in &self.lab.targets {
            if let TargetKind::Attached { url, .. } | TargetKind::Remote { url, .. } = &target.kind
                && !self.needs_setup(url)
            {
                self.contact(target, url)?;
            }
        }
        Ok(())
    }

    /// Whether `template` uses the output of a setup step.
    fn needs_setup(&self, template: &str) -> bool {
        let outputs: Vec<&str> = self
            .lab
            .setup
            .iter()
            .filter_map(|step| step.output.as_deref())
            .collect();
        names(template).iter().any(|name| outputs.contains(name))
    }

    /// One TLS handshake with `target` at `url` (a template), if it is `https`.
    fn contact(&self, target: &LabTarget, url: &str) -> Result<()> {
        let url = expand(url, &self.values);
        if !url.starts_with("https://") {
            return Ok(());
        }
        self.progress
            .phase(format!("contacting {} over TLS…", target.name));
        let plan = RequestPlan::new(&[Target::get(&url)], false)
            .with_context(|| format!("target {}", target.name))?;
        let options = target.tls.clone().unwrap_or_default();
        TlsClient::new(&options, &plan.authority, HttpVersion::Http1)
            .and_then(|client| client.probe(plan.address, CONTACT_TIMEOUT))
            .with_context(|| format!("target {}", target.name))?;
        Ok(())
    }

    pub(super) fn start_targets(&mut self) -> Result<()> {
        let launches = self.launches();
        let repeats = self.settings.cold_starts;
        let progress = &self.progress;
        let (cold, running) =
            cold_start::measure(&launches, repeats, &self.logs, |name, round| {
                progress.phase(format!("cold start: {name} {round}/{repeats}"));
                progress.advance();
            })?;
        let mut started = cold.into_iter().zip(running);
        for (index, target) in self.lab.targets.iter().enumerate() {
            let live = match &target.kind {
                TargetKind::Started { .. } => {
                    let (measured, running) = started
                        .next()
                        .context("one cold start and one running process per started target")?;
                    self.started(index, target, measured, running)?
                }
                TargetKind::Attached { url, pid } => self.attach(target, url, pid)?,
                TargetKind::Remote {
                    url,
                    metrics,
                    machine,
                } => self.remote(target, url, metrics, machine)?,
            };
            if live.tls.as_ref().is_some_and(|tls| tls.insecure) {
                self.report.notes.push(format!(
                    "INSECURE: {}'s TLS certificate was not verified (`insecure = true` in its \
                     [target.tls]).",
                    target.name
                ));
            }
            self.report.targets[index].url = Some(live.base_url.clone());
            self.live.push(live);
            self.after_start(index)?;
        }
        self.check()
    }

    /// How to start each target ferry starts, with the run's placeholders.
    pub(super) fn launches(&self) -> Vec<Launch> {
        let mut launches = Vec::new();
        for target in &self.lab.targets {
            if let TargetKind::Started {
                start,
                env,
                cwd,
                ready,
                ready_timeout,
                container,
            } = &target.kind
            {
                let mut all_env = container
                    .as_ref()
                    .map_or_else(|| self.lab.env.clone(), |spec| spec.lab_env.clone());
                all_env.extend(env.iter().cloned());
                let mut values = self.values.clone();
                let container = container.as_ref().map(|spec| {
                    values.insert(builtin::CORES.into(), spec.cores().to_string());
                    self.container_run(spec)
                });
                launches.push(Launch {
                    name: target.name.clone(),
                    argv: start.clone(),
                    cwd: cwd.as_ref().map_or_else(
                        || self.lab.dir.clone(),
                        |cwd| self.lab.dir.join(expand(cwd, &self.values)),
                    ),
                    env: all_env,
                    ready: ready.clone(),
                    ready_timeout: *ready_timeout,
                    values,
                    mask: self.mask.clone(),
                    tls: target.tls.clone(),
                    container,
                });
            }
        }
        launches
    }

    /// How `spec` runs: with the engine `--engine` chose (podman when none was found to
    /// choose, as in `--plan`).
    fn container_run(&self, spec: &ContainerSpec) -> ContainerRun {
        ContainerRun {
            spec: spec.clone(),
            engine: self
                .settings
                .engine
                .clone()
                .unwrap_or_else(|| "podman".into()),
        }
    }

    fn started(
        &mut self,
        index: usize,
        target: &LabTarget,
        mut measured: ColdStart,
        running: Running,
    ) -> Result<LiveTarget> {
        if let TargetKind::Started {
            container: Some(spec),
            ..
        } = &target.kind
        {
            self.progress
                .phase(format!("container start: {} ({})", target.name, spec.image));
            let run = self.container_run(spec);
            let name = format!("ferry-{}-trivial", target.name);
            measured.container_start_median_ms =
                Some(run.trivial_start_ms(&name, self.settings.cold_starts)?);
        }
        self.progress.note(format!(
            "cold start {}: median {:.0} ms, max {:.0} ms, idle RSS {:.1} MiB",
            target.name,
            measured.median_ms,
            measured.max_ms,
            measured.idle_rss_bytes as f64 / 1_048_576.0
        ));
        self.report.targets[index].cold_start = Some(measured);
        Ok(LiveTarget {
            name: target.name.clone(),
            role: target.role,
            base_url: running.base_url(),
            tls: target.tls.clone(),
            gauge: running.gauge(),
            outputs: BTreeMap::new(),
            headers: Vec::new(),
            running: Some(running),
        })
    }

    /// A target already running on this machine: its process tree is measured.
    fn attach(&mut self, target: &LabTarget, url: &str, pid: &PidSource) -> Result<LiveTarget> {
        let pid = match pid {
            PidSource::Pid(pid) => *pid,
            PidSource::File(file) => {
                let file = self.lab.dir.join(expand(file, &self.values));
                let text = std::fs::read_to_string(&file).with_context(|| {
                    format!("reading {}'s pid_file {}", target.name, file.display())
                })?;
                text.trim()
                    .parse()
                    .with_context(|| format!("{} holds no pid", file.display()))?
            }
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            bail!("target {}: no process {pid} on this machine", target.name);
        }
        if self.needs_setup(url) {
            self.contact(target, url)?;
        }
        self.report.notes.push(format!(
            "{} was already running (pid {pid}): ferry cannot restart it, so it has no cold start.",
            target.name
        ));
        Ok(LiveTarget {
            name: target.name.clone(),
            role: target.role,
            base_url: expand(url, &self.values),
            tls: https_options(target, &expand(url, &self.values)),
            gauge: Gauge::Tree(pid),
            outputs: BTreeMap::new(),
            headers: Vec::new(),
            running: None,
        })
    }

    /// A target on another machine: its own Prometheus process metrics are read.
    fn remote(
        &mut self,
        target: &LabTarget,
        url: &str,
        metrics: &str,
        machine: &str,
    ) -> Result<LiveTarget> {
        if self.needs_setup(url) {
            self.contact(target, url)?;
        }
        let url = expand(url, &self.values);
        let tls = https_options(target, &url);
        let metrics = expand(metrics, &self.values);
        let metrics = if metrics.starts_with('/') {
            format!("{}{metrics}", url.trim_end_matches('/'))
        } else {
            metrics
        };
        self.report.notes.push(format!(
            "{} runs on another machine ({machine}), not on {} where ferry ran: it has no cold \
             start, its CPU and memory come from its Prometheus process metrics ({metrics}), \
             and its figures hold for its own hardware.",
            target.name, self.report.machine
        ));
        Ok(LiveTarget {
            name: target.name.clone(),
            role: target.role,
            base_url: url,
            tls,
            gauge: Gauge::Metrics(metrics),
            outputs: BTreeMap::new(),
            headers: Vec::new(),
            running: None,
        })
    }
}

/// The TLS options of an attached or remote target: its `[target.tls]`, or the defaults when
/// its `url` is `https` without one; none for plaintext.
fn https_options(target: &LabTarget, url: &str) -> Option<TlsOptions> {
    target
        .tls
        .clone()
        .or_else(|| url.starts_with("https://").then(TlsOptions::default))
}
