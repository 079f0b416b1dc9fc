//! A lab scenario made runnable once the setup steps have run: its requests with every
//! placeholder of the run filled in and its files read, then, per target and run, the
//! `ferry load` settings that send them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::load::flow::Flow;
use crate::load::flow::file::{self, StepSpec};
use crate::load::target::{TargetFile, read_target_file, read_values, targets_of};
use crate::load::{LoadSettings, Model, RateSchedule, Target};

use super::lab::placeholders::expand;
use super::lab::{BodySource, Lab, LabScenario, RequestSource};
use super::live::LiveTarget;
use super::settings::CompareSettings;

/// A scenario ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: LabScenario,
    /// URLs are paths, sent to the target under measurement.
    pub targets: Vec<Target>,
    /// The measured length of each run.
    pub duration: Duration,
    /// How much the rate schedule's steps stretch (see `lab::rate`).
    pub stretch: f64,
    /// What a reader must know about how the scenario was prepared (a replaced `base_url`).
    pub notes: Vec<String>,
    /// A flow scenario's steps (`targets` are their requests, in order).
    pub flow: Option<Flow>,
}

/// Refuses a target file that names an absolute URL: in a lab every request goes to the
/// target under measurement, so its requests must be paths.
pub fn paths_only(file: &TargetFile, path: &std::path::Path) -> Result<()> {
    if let Some(request) = file.requests.iter().find(|r| !r.url.starts_with('/')) {
        anyhow::bail!(
            "requests file {}: `{}` is an absolute URL; in a lab every request goes to the \
             target under measurement, so give a path (`/...`)",
            path.display(),
            request.url
        );
    }
    Ok(())
}

/// Fills `scenario`'s placeholders from `values` (the run's) and reads its files.
pub fn prepare(
    lab: &Lab,
    scenario: &LabScenario,
    values: &BTreeMap<String, String>,
    settings: &CompareSettings,
) -> Result<Prepared> {
    let path = |template: &str| lab.dir.join(expand(template, values));
    let mut notes = Vec::new();
    let mut value_sets = BTreeMap::new();
    for (name, file) in &scenario.values {
        value_sets.insert(name.clone(), read_values(&path(file))?);
    }
    let mut flow = None;
    let mut targets = match &scenario.requests {
        RequestSource::Flow(steps) => {
            let (targets, built) = flow_steps(scenario, steps, values, &value_sets)?;
            flow = Some(built);
            targets
        }
        RequestSource::One { method, path: url } => {
            let mut target = Target::get(&expand(url, values));
            target.method = method.clone();
            target.name = scenario.name.clone();
            target.expect.clone_from(&scenario.expect);
            vec![target]
        }
        RequestSource::File(file) => {
            let file = path(file);
            let mut parsed = read_target_file(&file)?;
            paths_only(&parsed, &file)?;
            // A file made for `ferry load` names its server; in a lab the server is each
            // target in turn, so its `base_url` is replaced by the target's URL.
            if let Some(base_url) = parsed.base_url.take() {
                notes.push(format!(
                    "scenario {}: the base_url of {} ({base_url}) was replaced by each target's URL",
                    scenario.name,
                    file.display()
                ));
            }
            let mut targets = targets_of(&parsed, &file)?;
            for target in &mut targets {
                if target.expect.is_none() {
                    target.expect.clone_from(&scenario.expect);
                }
            }
            targets
        }
    };
    let body = match &scenario.body {
        Some(BodySource::Inline(body)) => Some(expand(body, values)),
        Some(BodySource::File(file)) => {
            let file = path(file);
            Some(
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading the body file {}", file.display()))?,
            )
        }
        None => None,
    };
    for target in &mut targets {
        let own: Vec<String> = match flow {
            // A step's header wins over the scenario's of the same name.
            Some(_) => target
                .headers
                .iter()
                .map(|(name, _)| name.to_ascii_lowercase())
                .collect(),
            None => Vec::new(),
        };
        target.headers.extend(
            scenario
                .headers
                .iter()
                .filter(|(name, _)| !own.contains(&name.to_ascii_lowercase()))
                .map(|(name, value)| (name.clone(), expand(value, values))),
        );
        if body.is_some() {
            target.body.clone_from(&body);
        }
        for (name, set) in &value_sets {
            target.values.insert(name.clone(), set.clone());
        }
    }
    Ok(Prepared {
        spec: scenario.clone(),
        targets,
        duration: settings.scenario_duration(scenario.duration),
        stretch: settings.stretch(scenario.duration),
        notes,
        flow,
    })
}

/// The requests and the flow of `steps`, with the run's placeholders filled in; a step
/// without `expect` takes the scenario's.
fn flow_steps(
    scenario: &LabScenario,
    steps: &[StepSpec],
    values: &BTreeMap<String, String>,
    value_sets: &file::ValueSets,
) -> Result<(Vec<Target>, Flow)> {
    let filled: Vec<StepSpec> = steps
        .iter()
        .map(|step| StepSpec {
            request: expand(&step.request, values),
            headers: step
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), expand(value, values)))
                .collect(),
            body: step.body.as_ref().map(|body| expand(body, values)),
            expect: step.expect.clone().or_else(|| scenario.expect.clone()),
            ..step.clone()
        })
        .collect();
    // Paths for now: each target's URL goes in front of them when it is sent to
    // (`Prepared::for_target`).
    file::build("", &filled, value_sets).with_context(|| format!("scenario {}", scenario.name))
}

/// Absolute URL of `path` on `base_url`.
fn on(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

impl Prepared {
    /// `target` as sent to `live`: the target's own placeholders (its `after_start` outputs)
    /// filled in, its URL absolute, and its `[target.headers]` in place of a scenario's header
    /// of the same name.
    fn for_target(&self, target: &mut Target, live: &LiveTarget) {
        target.url = on(&live.base_url, &expand(&target.url, &live.outputs));
        for (_, value) in &mut target.headers {
            *value = expand(value, &live.outputs);
        }
        // A body file is sent as it is written (no lab placeholder is filled in it).
        if !matches!(self.spec.body, Some(BodySource::File(_)))
            && let Some(body) = &mut target.body
        {
            *body = expand(body, &live.outputs);
        }
        target.headers.retain(|(name, _)| {
            !live
                .headers
                .iter()
                .any(|(own, _)| own.eq_ignore_ascii_case(name))
        });
        target.headers.extend(live.headers.iter().cloned());
    }

    /// The closed model with the scenario's connections, or the open model on `schedule`
    /// (the scenario's resolved `rate`, or a capacity probe's constant rate), sent to `live`
    /// (over TLS, with its settings, when it is an `https` target).
    pub fn load_settings(
        &self,
        live: &LiveTarget,
        schedule: Option<RateSchedule>,
        connections: usize,
        warmup: Duration,
        seed: u64,
    ) -> LoadSettings {
        let targets: Vec<Target> = self
            .targets
            .iter()
            .cloned()
            .map(|mut target| {
                self.for_target(&mut target, live);
                target
            })
            .collect();
        let mut load = LoadSettings::closed(&targets[0].url, connections, self.duration);
        load.targets = targets;
        load.warmup = warmup;
        load.seed = seed;
        load.value_order = self.spec.values_order;
        load.tls = live.tls.clone().unwrap_or_default();
        load.flow = self.flow.clone();
        if let Some(schedule) = schedule {
            load.duration = schedule.natural_duration().or(Some(self.duration));
            load.model = Model::Open {
                schedule,
                max_backlog: None,
            };
        }
        load
    }
}
