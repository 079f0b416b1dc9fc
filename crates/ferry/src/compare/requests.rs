//! A lab scenario made runnable once the setup steps have run: its requests with every
//! placeholder of the run filled in and its files read, then, per target and run, the
//! `ferry load` settings that send them.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::load::target::{load_target_file, read_values};
use crate::load::{LoadSettings, Model, RateSchedule, Target};

use super::lab::placeholders::expand;
use super::lab::{BodySource, Lab, LabScenario, RequestSource};
use super::settings::CompareSettings;

/// A scenario ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub spec: LabScenario,
    /// URLs are paths (or absolute URLs from a target file with its own `base_url`).
    pub targets: Vec<Target>,
    /// The measured length of each run.
    pub duration: Duration,
    /// How much the rate schedule's steps stretch (see `lab::rate`).
    pub stretch: f64,
}

/// Fills `scenario`'s placeholders from `values` (the run's) and reads its files.
pub fn prepare(
    lab: &Lab,
    scenario: &LabScenario,
    values: &BTreeMap<String, String>,
    settings: &CompareSettings,
) -> Result<Prepared> {
    let path = |template: &str| lab.dir.join(expand(template, values));
    let mut targets = match &scenario.requests {
        RequestSource::One { method, path: url } => {
            let mut target = Target::get(&expand(url, values));
            target.method = method.clone();
            target.name = scenario.name.clone();
            vec![target]
        }
        RequestSource::File(file) => load_target_file(&path(file))?,
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
    let mut value_sets = BTreeMap::new();
    for (name, file) in &scenario.values {
        value_sets.insert(name.clone(), read_values(&path(file))?);
    }
    for target in &mut targets {
        target.headers.extend(
            scenario
                .headers
                .iter()
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
    })
}

/// Absolute URL of `url` (a path, or already absolute) on `base_url`.
fn on(base_url: &str, url: &str) -> String {
    if url.starts_with('/') {
        format!("{}{url}", base_url.trim_end_matches('/'))
    } else {
        url.to_string()
    }
}

impl Prepared {
    /// The closed model with the scenario's connections, or the open model on `schedule`
    /// (the scenario's resolved `rate`, or a capacity probe's constant rate).
    pub fn load_settings(
        &self,
        base_url: &str,
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
                target.url = on(base_url, &target.url);
                target
            })
            .collect();
        let mut load = LoadSettings::closed(&targets[0].url, connections, self.duration);
        load.targets = targets;
        load.warmup = warmup;
        load.seed = seed;
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
