//! `ferry candidates`: rank services and routes from a Prometheus server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::ProgressBar;

use ferry::candidates::prometheus::{Connection, parse_header};
use ferry::candidates::{self, CandidatesSettings, Labels, MetricNames, target_file};
use ferry::units::parse_duration;

const CANDIDATES_HELP: &str = "\
Quantiles come from bucket rates summed per service (or route) before histogram_quantile.
A route's CPU is estimated by regressing the process's CPU rate on its routes' request rates
(non-negative least squares over query_range samples); the report says how well that fits.

Workload: CPU share = CPU per request / mean latency. cpu-bound at 50% or more, io-bound
below 20%, mixed between. Score = CPU cores × min(CPU share, 1); ties by p99.

The full manual, the JSON schema and the target file: docs/ferry.md, `ferry candidates`.";

#[derive(Args)]
#[command(after_long_help = CANDIDATES_HELP)]
pub struct CandidatesArgs {
    /// The Prometheus server: http:// or https://, with its path prefix if it has one.
    #[arg(long, value_name = "URL")]
    prometheus: String,
    /// How far back to look.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    window: Duration,
    /// How many top services get their routes broken down.
    #[arg(long, default_value_t = 3)]
    top: usize,
    /// Step of the query_range samples the route CPU is fitted on [default: window / 120,
    /// at least --scrape-interval].
    #[arg(long, value_parser = parse_duration)]
    step: Option<Duration>,
    /// The servers' scrape interval; range-query rates span four of them.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    scrape_interval: Duration,
    /// Per query.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,

    /// The label that names a service.
    #[arg(long, default_value = "job", help_heading = "Labels")]
    service_label: String,
    /// The label holding the route template.
    #[arg(long, default_value = "route", help_heading = "Labels")]
    route_label: String,
    /// The label holding the HTTP method.
    #[arg(long, default_value = "method", help_heading = "Labels")]
    method_label: String,
    /// The label holding the response status.
    #[arg(long, default_value = "status", help_heading = "Labels")]
    status_label: String,

    /// Latency histogram, in seconds (with _bucket, _sum, _count).
    #[arg(
        long,
        default_value = "http_request_duration_seconds",
        help_heading = "Metrics"
    )]
    duration_metric: String,
    /// Process CPU counter, in seconds.
    #[arg(
        long,
        default_value = "process_cpu_seconds_total",
        help_heading = "Metrics"
    )]
    cpu_metric: String,
    /// Resident memory gauge, in bytes.
    #[arg(
        long,
        default_value = "process_resident_memory_bytes",
        help_heading = "Metrics"
    )]
    rss_metric: String,
    /// GC pause histogram, in seconds (Node; used where exported).
    #[arg(
        long,
        default_value = "nodejs_gc_duration_seconds",
        help_heading = "Metrics"
    )]
    gc_metric: String,
    /// Event-loop lag gauge, in seconds (Node; used where exported).
    #[arg(
        long,
        default_value = "nodejs_eventloop_lag_p99_seconds",
        help_heading = "Metrics"
    )]
    eventloop_lag_metric: String,

    /// A file holding a bearer token for Prometheus.
    #[arg(long, value_name = "PATH", help_heading = "Access")]
    bearer_file: Option<PathBuf>,
    /// Basic auth user.
    #[arg(long, value_name = "USER", help_heading = "Access")]
    basic_user: Option<String>,
    /// A file holding the basic auth password.
    #[arg(
        long,
        value_name = "PATH",
        requires = "basic_user",
        help_heading = "Access"
    )]
    password_file: Option<PathBuf>,
    /// An extra header on every query, `Name: value` (e.g. `X-Scope-OrgID: tenant`); repeatable.
    #[arg(short = 'H', long = "header", value_parser = parse_header, help_heading = "Access")]
    headers: Vec<(String, String)>,
    /// PEM certificates to trust beyond the system's (a private CA); `--cacert` is the same
    /// flag, as in `ferry load`.
    #[arg(
        long,
        visible_alias = "cacert",
        value_name = "PATH",
        help_heading = "Access"
    )]
    ca_file: Option<PathBuf>,

    /// Write the report as JSON.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    json: Option<PathBuf>,
    /// Write a ferry target file of the top candidate's route mix.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    write_targets: Option<PathBuf>,
    /// The base URL written into that target file.
    #[arg(long, default_value = "http://127.0.0.1:8080", help_heading = "Output")]
    base_url: String,
}

pub fn candidates(args: CandidatesArgs) -> Result<ExitCode> {
    if args.window.is_zero() {
        bail!("--window must be longer than zero");
    }
    let settings = CandidatesSettings {
        connection: Connection {
            url: args.prometheus,
            bearer_file: args.bearer_file,
            basic_user: args.basic_user,
            basic_password_file: args.password_file,
            headers: args.headers,
            ca_file: args.ca_file,
            timeout: args.timeout,
        },
        window: args.window,
        labels: Labels {
            service: args.service_label,
            route: args.route_label,
            method: args.method_label,
            status: args.status_label,
        },
        metrics: MetricNames {
            duration: args.duration_metric,
            cpu: args.cpu_metric,
            rss: args.rss_metric,
            gc: args.gc_metric,
            eventloop_lag: args.eventloop_lag_metric,
        },
        top: args.top.max(1),
        step: args.step,
        scrape_interval: args.scrape_interval,
    };
    // Hidden by indicatif when stderr is not a terminal.
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("asking {}…", settings.connection.url));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let outcome = candidates::run(&settings);
    spinner.finish_and_clear();
    let report = outcome?;
    print!("{}", report.render_text());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("encoding the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("\nJSON: {}", path.display());
    }
    if let Some(path) = &args.write_targets {
        let Some(top) = report.services.first() else {
            bail!("no service to write a target file for");
        };
        let file = target_file::for_service(top, &args.base_url)?;
        let json = serde_json::to_string_pretty(&file).context("encoding the target file")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("\nTarget file for {}: {}", top.service, path.display());
        for name in file.values.keys() {
            println!("  supply {name}.txt beside it: one value of {{{name}}} per line");
        }
    }
    Ok(ExitCode::SUCCESS)
}
