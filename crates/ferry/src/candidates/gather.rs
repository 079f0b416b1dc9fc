//! Asks the queries and assembles the ranked report: the services ([`super::services`]),
//! then the routes of the top ones ([`super::routes`]).

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::CandidatesSettings;
use super::prometheus::{Prometheus, Sample};
use super::queries::{Queries, promql_duration};
use super::report::{CandidatesReport, Rule, SCHEMA_VERSION};
use super::{routes, services};

/// Values by the key of their labels.
pub(super) type ByKey = BTreeMap<Vec<String>, f64>;

/// One evaluation: the server, the settings, the queries, and the instant they are asked at.
pub(super) struct Ask<'a> {
    pub client: &'a Prometheus,
    pub settings: &'a CandidatesSettings,
    pub queries: Queries<'a>,
    /// Prometheus's clock, Unix seconds.
    pub end: f64,
}

pub fn gather(client: &Prometheus, settings: &CandidatesSettings) -> Result<CandidatesReport> {
    let ask = Ask {
        client,
        settings,
        queries: Queries {
            metrics: &settings.metrics,
            labels: &settings.labels,
            window: promql_duration(settings.window),
        },
        end: client.now()?,
    };
    let mut ranked = services::ranked(&ask)?;
    let step = routes::break_down(&ask, &mut ranked)?;
    let mut notes = Vec::new();
    if ranked.iter().any(|s| s.cpu_cores.is_none()) {
        notes.push(format!(
            "Services without {} cannot be ranked by CPU: their score is 0.",
            settings.metrics.cpu
        ));
    }
    notes.push(
        "CPU is measured per process: a route's CPU comes from regressing the process's CPU on its routes' request rates, so it holds as well as the fit's R² and the traffic's variation allow."
            .into(),
    );
    Ok(CandidatesReport {
        schema_version: SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").into(),
        prometheus: client.url().into(),
        evaluated_at_unix_s: ask.end,
        window_seconds: settings.window.as_secs_f64(),
        step_seconds: step.as_secs_f64(),
        rule: Rule::default(),
        services: ranked,
        notes,
    })
}

impl Ask<'_> {
    /// An instant query's samples keyed by `key` labels; series without the first key label
    /// (the service) are left out.
    pub fn keyed(&self, promql: &str, key: &[String]) -> Result<ByKey> {
        let samples: Vec<Sample> = self.client.query(promql, self.end)?;
        Ok(samples
            .into_iter()
            .filter(|sample| sample.labels.contains_key(&key[0]))
            .map(|sample| {
                let values = key
                    .iter()
                    .map(|name| sample.labels.get(name).cloned().unwrap_or_default())
                    .collect();
                (values, sample.value)
            })
            .collect())
    }

    /// Explains an empty answer: the metric is absent, or present without the service label.
    pub fn missing(&self, metric: &str, promql: &str) -> Result<()> {
        let label = &self.settings.labels.service;
        let present = self
            .client
            .query(&format!("count by ({label}) ({metric})"), self.end)?;
        if present.is_empty() {
            bail!(
                "Prometheus at {} has no series {metric} in the window (looked for with `{promql}`); pass the name your services export with the matching --*-metric flag",
                self.client.url()
            );
        }
        if present
            .iter()
            .any(|sample| sample.labels.contains_key(label))
        {
            bail!(
                "the series {metric} have too few samples in the window for a rate (`{promql}` is empty): a rate needs two scrapes within --window {}",
                self.queries.window
            );
        }
        bail!(
            "the series {metric} have no `{label}` label (looked for with `{promql}`); pass the label that names your services with --service-label",
        )
    }
}

/// `total` per second over `rps` requests per second.
pub(super) fn per_request(total: f64, rps: f64) -> Option<f64> {
    (rps > 0.0 && total.is_finite()).then(|| total / rps)
}
