//! The outcome of a run: the JSON schema `--json` writes and `ferry report` reads.
//! docs/ferry.md documents every field.

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use super::encoded::{SecondHistograms, SerializedHistograms};
use super::flow::FlowRecord;
use super::outcome::{ErrorTally, Tally};
use super::settings::HttpVersion;
use super::share::Share;
use super::tls::TlsRecord;

/// Version of the JSON layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    pub ferry_version: String,
    /// Wall-clock start of the measured part, in milliseconds since the Unix epoch, by the
    /// clock of the host that ran it (a merge: the earliest of its parts).
    pub started_at_unix_ms: u64,
    /// Name of the host that ran the load (a merge: the parts' names, joined by `+`).
    #[serde(default)]
    pub host: String,
    /// The part of the load this run sent (`--share`); `1/1` for a whole load or a merge.
    #[serde(default)]
    pub share: Share,
    /// The runs a `ferry report --merge` result was made of; empty for a run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedPart>,
    pub settings: SettingsRecord,
    pub totals: Totals,
    pub latency: Latency,
    /// One point per second of the measured run, by intended start time.
    pub time_series: Vec<SecondPoint>,
    pub histograms: SerializedHistograms,
    /// A flow's iterations and steps (`ferry load --flow`, a lab's `[[scenario.flow]]`);
    /// absent for a run of requests. `totals` count every step's requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowRecord>,
}

/// One run of a merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedPart {
    /// The file it was read from, as given.
    pub file: String,
    pub host: String,
    pub share: Share,
    pub started_at_unix_ms: u64,
    /// Where its second 0 sits in the merged timeline.
    pub second_offset: u64,
    pub requests: u64,
}

/// The settings the run used, as they matter for reading its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsRecord {
    /// `closed` or `open`.
    pub model: String,
    /// The `--rate` schedule of an open-model run.
    pub rate_schedule: Option<String>,
    /// The `-n` request count of a closed-model run.
    pub request_limit: Option<u64>,
    pub targets: Vec<TargetRecord>,
    pub connections: usize,
    pub threads: usize,
    pub http: HttpVersion,
    pub streams_per_connection: usize,
    /// Configured measured duration; absent for a run bounded only by `-n`.
    pub duration_s: Option<f64>,
    pub warmup_s: f64,
    pub timeout_ms: u64,
    /// Open model: how many sends may wait for a free connection before sends are dropped.
    pub backlog_limit: Option<usize>,
    /// What TLS agreed in the run's first handshake; null for a plaintext run (and in files
    /// written before TLS existed).
    #[serde(default)]
    pub tls: Option<TlsRecord>,
}

/// One target as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub name: String,
    pub method: String,
    pub url: String,
    pub weight: u32,
}

/// Counts over the measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Length of the measured part of the run, in seconds.
    pub duration_s: f64,
    /// Requests sent or attempted (responses plus transport errors).
    pub requests: u64,
    /// Requests that got a response, whatever its status.
    pub responses: u64,
    /// Responses that are not errors: 2xx and 3xx, or the statuses an `expect` lists.
    pub successes: u64,
    /// Responses per second of measured run.
    pub throughput_rps: f64,
    /// Requests (sent or attempted) per second of measured run.
    pub request_rate_rps: f64,
    pub errors: ErrorTally,
    /// All errors: transport errors plus the responses whose status counts as an error (outside
    /// 2xx and 3xx, or not in the request's `expect`).
    pub error_count: u64,
    /// `error_count / requests` (0 when nothing was sent).
    pub error_ratio: f64,
    pub late: u64,
    pub dropped: u64,
    pub body_bytes: u64,
    /// Responses by status code.
    pub status: std::collections::BTreeMap<u16, u64>,
    /// The responses that counted as errors, by status code.
    #[serde(default)]
    pub error_status: std::collections::BTreeMap<u16, u64>,
    /// Requests meant to start during the warm-up (not measured).
    pub warmup_requests: u64,
    /// Whether the run was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// TCP connections opened for the measured requests (reconnects included).
    #[serde(default)]
    pub connects: u64,
    /// Their mean time to connect; null without a connect.
    #[serde(default)]
    pub connect_time_us_mean: Option<f64>,
    /// TLS handshakes made for the measured requests (resumed ones included); 0 in plaintext.
    #[serde(default)]
    pub handshakes: u64,
    /// Their mean time, after the TCP connect; null without a handshake.
    #[serde(default)]
    pub handshake_time_us_mean: Option<f64>,
}

/// Latency summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// From the intended start time to the end of the response (open model); the same as
    /// `service` in the closed model, where a request is meant to start when it is sent.
    pub corrected: Percentiles,
    /// From the actual send to the end of the response: what tools with coordinated omission
    /// report.
    pub service: Percentiles,
    /// Percentile curves, for plots.
    pub corrected_curve: Vec<CurvePoint>,
    pub service_curve: Vec<CurvePoint>,
}

/// A latency distribution summarised, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub stdev_us: f64,
    pub p50_us: u64,
    pub p75_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: histogram.len(),
            min_us: histogram.min(),
            mean_us: histogram.mean(),
            stdev_us: histogram.stdev(),
            p50_us: histogram.value_at_quantile(0.50),
            p75_us: histogram.value_at_quantile(0.75),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            p99_9_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        }
    }

    /// The value of a named percentile: `p50`, `p75`, `p90`, `p99`, `p99.9`, `max`, `min`,
    /// `mean`.
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" | "median" => self.p50_us as f64,
            "p75" => self.p75_us as f64,
            "p90" => self.p90_us as f64,
            "p99" => self.p99_us as f64,
            "p99.9" | "p999" => self.p99_9_us as f64,
            "max" | "p100" => self.max_us as f64,
            "min" => self.min_us as f64,
            "mean" | "avg" => self.mean_us,
            _ => return None,
        })
    }
}

/// A point of a percentile curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// 0–100.
    pub percentile: f64,
    pub latency_us: u64,
}

/// The curve at the percentiles plots show: dense towards the tail (90, 99, 99.9, ...).
pub fn percentile_curve(histogram: &Histogram<u64>) -> Vec<CurvePoint> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let mut points = Vec::new();
    // Ten steps per "nine": 0, 10, ..., 90, 91, ..., 99, 99.1, ... down to 1 in a million.
    let mut base = 0.0;
    let mut step = 10.0;
    while step >= 0.0001 {
        for index in 0..9 {
            let percentile = base + step * index as f64;
            points.push(CurvePoint {
                percentile,
                latency_us: histogram.value_at_percentile(percentile),
            });
        }
        base += step * 9.0;
        step /= 10.0;
    }
    points.push(CurvePoint {
        percentile: 100.0,
        latency_us: histogram.max(),
    });
    points
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Seconds since the measured part began (by intended start time).
    pub second: u64,
    pub requests: u64,
    pub responses: u64,
    pub errors: ErrorTally,
    pub error_count: u64,
    pub late: u64,
    pub dropped: u64,
    /// Corrected latency percentiles of the requests meant to start in this second.
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Service-time percentiles of the same requests.
    pub service_p50_us: u64,
    pub service_p99_us: u64,
    /// This second's histograms, in the encoding of the run's `histograms`, so that runs of
    /// several hosts merge second by second exactly. Absent in files of older ferry versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histograms: Option<SecondHistograms>,
}

impl SecondPoint {
    /// Summarises one second and keeps its histograms, encoded.
    pub fn new(
        second: u64,
        corrected: &Histogram<u64>,
        service: &Histogram<u64>,
        tally: &Tally,
    ) -> Result<SecondPoint> {
        let quantile = |histogram: &Histogram<u64>, q: f64| {
            if histogram.is_empty() {
                0
            } else {
                histogram.value_at_quantile(q)
            }
        };
        Ok(SecondPoint {
            second,
            requests: tally.requests,
            responses: tally.responses,
            errors: tally.errors.clone(),
            error_count: tally.errors.total(),
            late: tally.late,
            dropped: tally.dropped,
            p50_us: quantile(corrected, 0.5),
            p90_us: quantile(corrected, 0.9),
            p99_us: quantile(corrected, 0.99),
            max_us: corrected.max(),
            service_p50_us: quantile(service, 0.5),
            service_p99_us: quantile(service, 0.99),
            histograms: Some(SecondHistograms::encode(corrected, service)?),
        })
    }

    /// The counts of this second as a tally (without the body bytes and status codes, which
    /// only the run's totals keep).
    pub fn tally(&self) -> Tally {
        Tally {
            requests: self.requests,
            responses: self.responses,
            errors: self.errors.clone(),
            late: self.late,
            dropped: self.dropped,
            ..Tally::default()
        }
    }
}

impl Totals {
    /// The most frequent kind of error and its count: a status code that counted as an error
    /// (`"401"`) or a transport error (`"connect"`, `"timeout"`, `"reset"`, `"other"`); `None`
    /// without errors. Ties go to the status, then to the lower code.
    pub fn top_error(&self) -> Option<(String, u64)> {
        let statuses = self
            .error_status
            .iter()
            .map(|(status, count)| (status.to_string(), *count));
        let transport = [
            ("connect", self.errors.connect),
            ("timeout", self.errors.timeout),
            ("reset", self.errors.reset),
            ("other", self.errors.other),
            ("no value for a flow's extract", self.errors.extract),
        ]
        .into_iter()
        .map(|(kind, count)| (kind.to_string(), count));
        statuses
            .chain(transport)
            .filter(|(_, count)| *count > 0)
            .fold(
                None,
                |best: Option<(String, u64)>, (kind, count)| match best {
                    Some(best) if best.1 >= count => Some(best),
                    _ => Some((kind, count)),
                },
            )
    }

    /// `"<P> % <kind>"` of the most frequent error, P its share of the requests.
    pub fn top_error_text(&self) -> Option<String> {
        let (kind, count) = self.top_error()?;
        let percent = count as f64 / self.requests.max(1) as f64 * 100.0;
        Some(format!(
            "{} % {kind}",
            crate::units::format_percent(percent)
        ))
    }
}

impl RunResult {
    /// How many of the run's units it completed per second: a flow's completed iterations,
    /// or responses.
    pub fn unit_throughput_rps(&self) -> f64 {
        match &self.flow {
            Some(flow) => flow.throughput_rps,
            None => self.totals.throughput_rps,
        }
    }

    /// The latency of the run's unit: a flow's completed iterations (from their intended
    /// start), or each request's corrected latency.
    pub fn unit_latency(&self) -> &Percentiles {
        match &self.flow {
            Some(flow) => &flow.latency,
            None => &self.latency.corrected,
        }
    }

    /// Reads a result written by `--json`.
    pub fn from_json_file(path: &std::path::Path) -> Result<RunResult> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading run result {}", path.display()))?;
        let result: RunResult = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a ferry run result", path.display()))?;
        if result.schema_version != SCHEMA_VERSION {
            bail!(
                "{} has schema version {}, this ferry reads version {SCHEMA_VERSION}",
                path.display(),
                result.schema_version
            );
        }
        Ok(result)
    }

    /// Writes the result as pretty JSON.
    pub fn write_json_file(&self, path: &std::path::Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serializing the run result")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
