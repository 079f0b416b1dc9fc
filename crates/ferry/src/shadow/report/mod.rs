//! The shadow report: built from a run's [`ShadowTally`], written as JSON (schema in
//! `docs/ferry.md`), as terminal lines and as one self-contained HTML page. Its exit status
//! is the run's: 0 when no regression field's rate is above `--max-diff-rate`, 4 otherwise,
//! 1 when the run could not be made (a target without a response to over 10 % of requests).

pub mod html;
pub mod terminal;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::client::Role;
use super::diff::DiffKind;
use super::example::Example;
use super::grouping;
use super::noise::{self, FieldGlob, FieldRates, NoiseReason};
use super::tally::{EndpointTally, ShadowTally, TargetErrors};

pub const SHADOW_SCHEMA_VERSION: u32 = 1;

/// The header line of a report made with `--insecure` (terminal and HTML).
pub const INSECURE_NOTE: &str =
    "--insecure: the certificates of the https:// targets were not verified";

/// A target giving no response to more than this share of its requests fails the run.
pub const MAX_ERROR_RATE: f64 = 0.10;

/// Exit statuses of `ferry shadow`.
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const NOT_MADE: u8 = 1;
    pub const REGRESSED: u8 = 4;
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetUrls {
    pub primary: String,
    pub secondary: Option<String>,
    pub candidate: String,
}

/// What happened to the requests read or received.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RequestCounts {
    /// Requests read from the file, or received by the proxy.
    pub read: u64,
    /// Requests sent to the targets (the proxy: mirrored).
    pub sent: u64,
    /// Requests every target answered, and so compared.
    pub compared: u64,
    /// Writes (POST, PUT, PATCH, DELETE) not sent without `--allow-writes`.
    pub skipped_writes: u64,
    /// Proxy: requests not mirrored because of `--sample`.
    pub sampled_out: u64,
    /// Proxy: mirrors dropped because the queue was full.
    pub dropped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorsByTarget {
    pub primary: TargetErrors,
    pub secondary: Option<TargetErrors>,
    pub candidate: TargetErrors,
}

/// One field of one endpoint, a regression or noise.
#[derive(Debug, Clone, Serialize)]
pub struct FieldReport {
    pub field: String,
    pub kind: DiffKind,
    /// Share of the endpoint's compared requests where the candidate differed from the primary.
    pub rate: f64,
    /// Share where the secondary differed from the primary (0 without a secondary).
    pub noise_rate: f64,
    pub count: u64,
    pub noise_count: u64,
    /// For noise: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NoiseReason>,
    /// For regressions: up to five example requests with the three responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    pub endpoint: String,
    pub requests: u64,
    pub compared: u64,
    /// Requests where some target gave no response.
    pub errors: u64,
    pub regressions: Vec<FieldReport>,
    pub noise: Vec<FieldReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowReport {
    pub schema_version: u32,
    pub ferry_version: String,
    /// `replay` or `proxy`.
    pub mode: String,
    pub targets: TargetUrls,
    /// `--insecure`: the `https://` targets' certificates were not verified.
    pub insecure: bool,
    pub requests: RequestCounts,
    pub errors: ErrorsByTarget,
    pub max_diff_rate: f64,
    pub z_threshold: f64,
    /// The ignore globs in force: the default list, then `--ignore`.
    pub ignored: Vec<String>,
    pub warnings: Vec<String>,
    pub endpoints: Vec<EndpointReport>,
    /// Regression fields over all endpoints.
    pub regression_count: u64,
    pub wall_time_s: f64,
    /// Three-way (or two-way) comparisons completed per second of the run.
    pub comparisons_per_second: f64,
    pub exit_status: u8,
    /// Why the run could not be made, when it could not.
    pub failure: Option<String>,
}

/// What the report needs besides the tally.
pub struct ReportContext<'a> {
    pub mode: &'a str,
    pub targets: TargetUrls,
    pub requests: RequestCounts,
    pub max_diff_rate: f64,
    pub ignore: &'a [FieldGlob],
    pub warnings: Vec<String>,
    /// `--insecure` was given.
    pub insecure: bool,
    pub wall_time_s: f64,
}

impl ShadowReport {
    pub fn build(tally: &ShadowTally, context: ReportContext<'_>) -> ShadowReport {
        let has_secondary = context.targets.secondary.is_some();
        // The automatic route rule needs every path seen, so it is applied here.
        let mut endpoints: Vec<EndpointReport> = grouping::group(&tally.endpoints)
            .iter()
            .map(|(name, endpoint)| endpoint_report(name, endpoint, has_secondary, context.ignore))
            .collect();
        sort_worst_first(&mut endpoints);
        let regression_count = endpoints
            .iter()
            .map(|endpoint| endpoint.regressions.len() as u64)
            .sum();
        let compared: u64 = endpoints.iter().map(|endpoint| endpoint.compared).sum();
        let mut requests = context.requests;
        requests.compared = compared;
        let mut warnings = context.warnings;
        if !has_secondary {
            warnings.push(
                "no --secondary: noise cannot be told from regressions, so every difference \
                 outside the ignore list counts as a regression"
                    .to_string(),
            );
        }
        let (exit_status, failure) =
            exit_status(tally, has_secondary, &endpoints, context.max_diff_rate);
        ShadowReport {
            schema_version: SHADOW_SCHEMA_VERSION,
            ferry_version: env!("CARGO_PKG_VERSION").to_string(),
            mode: context.mode.to_string(),
            targets: context.targets,
            insecure: context.insecure,
            requests,
            errors: ErrorsByTarget {
                primary: tally.primary,
                secondary: has_secondary.then_some(tally.secondary),
                candidate: tally.candidate,
            },
            max_diff_rate: context.max_diff_rate,
            z_threshold: noise::Z_THRESHOLD,
            ignored: context
                .ignore
                .iter()
                .map(|glob| glob.as_str().to_string())
                .collect(),
            warnings,
            endpoints,
            regression_count,
            wall_time_s: context.wall_time_s,
            comparisons_per_second: if context.wall_time_s > 0.0 {
                compared as f64 / context.wall_time_s
            } else {
                0.0
            },
            exit_status,
            failure,
        }
    }

    /// Writes the JSON report to `path`.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("encoding the shadow report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// Writes the HTML report to `path`.
    pub fn write_html(&self, path: &Path) -> Result<()> {
        std::fs::write(path, html::render_html(self))
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Most regressions first, then the highest regression rate, then the busiest.
fn sort_worst_first(endpoints: &mut [EndpointReport]) {
    let worst = |endpoint: &EndpointReport| {
        endpoint
            .regressions
            .iter()
            .map(|field| field.rate)
            .fold(0.0, f64::max)
    };
    endpoints.sort_by(|left, right| {
        right
            .regressions
            .len()
            .cmp(&left.regressions.len())
            .then(worst(right).total_cmp(&worst(left)))
            .then(right.requests.cmp(&left.requests))
            .then(left.endpoint.cmp(&right.endpoint))
    });
}

/// The run's exit status, and why the run could not be made when it could not.
fn exit_status(
    tally: &ShadowTally,
    has_secondary: bool,
    endpoints: &[EndpointReport],
    max_diff_rate: f64,
) -> (u8, Option<String>) {
    let failing: Vec<String> = [Role::Primary, Role::Secondary, Role::Candidate]
        .iter()
        .filter(|role| **role != Role::Secondary || has_secondary)
        .filter(|role| tally.errors(**role).rate() > MAX_ERROR_RATE)
        .map(|role| {
            let errors = tally.errors(*role);
            format!(
                "the {} gave no response to {} of {} requests ({:.1} %, over {:.0} %)",
                role.name(),
                errors.errors,
                errors.requests,
                errors.rate() * 100.0,
                MAX_ERROR_RATE * 100.0
            )
        })
        .collect();
    let over_limit = endpoints
        .iter()
        .flat_map(|endpoint| &endpoint.regressions)
        .any(|field| field.rate > max_diff_rate);
    if !failing.is_empty() {
        (exit::NOT_MADE, Some(failing.join("; ")))
    } else if over_limit {
        (exit::REGRESSED, None)
    } else {
        (exit::PASSED, None)
    }
}

fn endpoint_report(
    name: &str,
    endpoint: &EndpointTally,
    has_secondary: bool,
    ignore: &[FieldGlob],
) -> EndpointReport {
    let compared = endpoint.compared.max(1) as f64;
    let mut regressions = Vec::new();
    let mut noise_fields = Vec::new();
    for (field, tally) in &endpoint.fields {
        let rates = FieldRates {
            candidate: tally.candidate,
            secondary: tally.secondary,
            compared: endpoint.compared,
        };
        let reason = noise::verdict(rates, has_secondary, noise::is_ignored(ignore, field));
        let report = FieldReport {
            field: field.clone(),
            kind: tally.kind(),
            rate: tally.candidate as f64 / compared,
            noise_rate: tally.secondary as f64 / compared,
            count: tally.candidate,
            noise_count: tally.secondary,
            reason,
            examples: if reason.is_none() {
                tally.examples.clone()
            } else {
                Vec::new()
            },
        };
        match reason {
            None => regressions.push(report),
            Some(_) => noise_fields.push(report),
        }
    }
    regressions.sort_by(|left, right| right.rate.total_cmp(&left.rate));
    EndpointReport {
        endpoint: name.to_string(),
        requests: endpoint.requests,
        compared: endpoint.compared,
        errors: endpoint.errors,
        regressions,
        noise: noise_fields,
    }
}
