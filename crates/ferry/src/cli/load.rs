//! `ferry load`: the command line of [`ferry::load`].

mod settings;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use ferry::load::share_spec::JOB_INDEX_VAR;
use ferry::load::start::{StartMissed, parse_start_at};
use ferry::load::{RateSchedule, ShareSpec};
use ferry::report;
use ferry::units::parse_duration;

use super::slo_gate::{Objectives, check_slo, parse_objectives};
use settings::settings_from;

const LOAD_HELP: &str = "\
MODELS
  Closed (default): each connection sends its next request as soon as the previous response
  has been read, as fast as the server allows, like wrk and hey. Latency is the time from
  send to the last byte of the response. Stops after -d (default 10s) or -n requests.

  Open (--rate): requests start on a schedule, whether or not earlier ones have finished, like
  real users. Latency counts from each request's INTENDED start time, so a stalled server is
  charged for all the requests that should have gone out during the stall (no coordinated
  omission); the service time from the actual send is reported beside it.
  A send finds an idle connection and goes at once; if every connection is busy it waits in a
  backlog and is counted LATE (it is still sent, and still measured from its intended time);
  if the backlog is full it is DROPPED and counted, never silently skipped. Sends still
  waiting when the schedule ends go out as connections free up, for at most --timeout; the
  rest are dropped. Use enough connections (-c) for rate × latency.

RATE SCHEDULES (--rate)
  2000 or 2000/s                 constant
  100/s:60s,500/s:30s            steps, each held for its duration (the burst pattern)
  100/s->1000/s:60s              linear ramp; can be mixed with steps
  spikes:200/s,2000/s,10s,1s     200/s with a 1s spike to 2000/s at the end of every 10s
  Without -d, a schedule of steps runs for its own length; otherwise -d (default 10s).

MEASUREMENT
  Latencies are recorded in HDR histograms (1µs to 1h, 3 significant figures), one per worker
  per second, merged exactly; a request belongs to the second it was meant to start in.
  Requests meant to start during --warmup are sent but not measured; -d counts after it.
  Requests in flight when the run ends are waited for (at most --timeout) and measured.
  Errors by kind: connect (refused, unreachable), timeout, reset (connection broken
  mid-request), other (protocol), and responses with status 4xx and 5xx.

SEVERAL HOSTS (--share, --start-at)
  --share I/N sends the I-th of N equal parts of the load: in the open model every N-th send of
  the schedule (rate/N, offset by one send per part, so the parts together are the schedule);
  in both models -c (and -n) are the whole load's and divided; values are walked (round-robin)
  or drawn (random, seeded per part) so that no two parts replay the same sequence.
  --share auto/N takes I from JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job sets the
  0-based index in each pod; see deploy/kubernetes/); without it, exit 2.
  --start-at TIME (Unix seconds, or RFC 3339) begins the measured window at TIME by this
  host's clock, after the warm-up; keep the hosts' clocks in sync (NTP). Merge the parts'
  --json files with `ferry report --merge` (see docs/ferry.md).

TLS (https:// targets)
  rustls, with the Mozilla roots built in; --cacert adds roots, --cert/--key present a client
  certificate, --insecure verifies nothing (and the summary says so). ALPN offers http/1.1, or
  only h2 with --http2. Sessions are resumed on reconnect; --tls-handshake-per-request makes
  every request open a connection and pay a full handshake. The run begins with one
  handshake of its own: a certificate error stops it there, in one line naming the host and
  the reason (exit 1). The JSON records what was agreed (settings.tls) and totals.connects,
  .connect_time_us_mean, .handshakes, .handshake_time_us_mean.

FLOWS (--flow FILE)
  A flow chains requests: create, then read what was created; log in, then use the token.
  FILE is JSON, and the positional argument is the base URL:
    {\"steps\": [
      {\"request\": \"POST /notes\", \"headers\": {\"content-type\": \"application/json\"},
       \"body\": \"{\\\"text\\\": \\\"n {uuid}\\\"}\", \"extract\": {\"id\": \"/id\"}},
      {\"request\": \"GET /notes/{id}\", \"think\": \"50ms\", \"name\": \"read it\"}]}
  `extract` takes a value by JSON Pointer (RFC 6901) from a 2xx JSON response, for the
  steps after it: a string as it is (percent-encoded in a URL), a number or boolean as its
  JSON text. Each connection runs the steps in a loop (closed model); --rate counts
  iteration starts, and -n iterations. The first error (transport, status, or a value that
  is not there) ends the iteration, counted as failed. The summary and the JSON's `flow`
  give iterations, their latency from intended start to last response (think time
  included), and each step's requests, errors and latency.

EXIT STATUS
  0 run completed (and every --slo bound held), 1 the run could not be made (a certificate
  refused, --http2 not agreed), 2 bad command line (also --share auto/N without
  JOB_COMPLETION_INDEX), 3 an --slo bound was breached, 6 the run would begin after its
  --start-at (or too close to it for the warm-up): it measured nothing.

EXAMPLES
  ferry load -c 64 -d 30s http://127.0.0.1:8080/
  ferry load --rate 2000 -d 60s --warmup 5s -c 100 --json run.json http://127.0.0.1:8080/users/{id} --values id=ids.txt
  ferry load --rate '100/s:60s,500/s:30s' --slo 'p99<5ms,errors<0.1%' http://127.0.0.1:8080/
  ferry load targets.json --rate 1000 -d 30s     (several weighted requests, see docs/ferry.md)
  ferry load --rate 4000 -d 60s --share 2/4 --start-at 1767225600 --json part2.json http://10.0.0.5:8080/
  ferry load -c 50 -d 30s --cacert ca.pem --cert client.pem --key client.key https://127.0.0.1:8443/
  ferry load -c 16 -d 30s --flow create-then-read.json http://127.0.0.1:8080";

#[derive(Args)]
#[command(after_long_help = LOAD_HELP)]
pub struct LoadArgs {
    /// `http://host:port/path` (may hold `{name}` placeholders filled by --values), or a JSON
    /// target file with several weighted requests.
    target: String,

    /// Connections to keep open.
    #[arg(short = 'c', long, default_value_t = 50, help_heading = "Load")]
    connections: usize,
    /// Worker threads, each with its own event loop and share of the connections
    /// [default: one per core].
    #[arg(short = 't', long, help_heading = "Load")]
    threads: Option<usize>,
    /// Measured duration, after the warm-up (e.g. 30s, 5m) [default: 10s, or the length of a
    /// stepped --rate schedule].
    #[arg(short = 'd', long, value_parser = parse_duration, help_heading = "Load")]
    duration: Option<Duration>,
    /// Closed model: stop after this many measured requests.
    #[arg(short = 'n', long, conflicts_with = "rate", help_heading = "Load")]
    requests: Option<u64>,
    /// Open model: start requests on this schedule (see RATE SCHEDULES below).
    #[arg(short = 'R', long, value_parser = RateSchedule::parse, help_heading = "Load")]
    rate: Option<RateSchedule>,
    /// Run this long before measuring; its requests are sent, then discarded.
    #[arg(long, value_parser = parse_duration, default_value = "0s", help_heading = "Load")]
    warmup: Duration,
    /// Give up on a request this long after sending it (counted as a timeout).
    #[arg(long, value_parser = parse_duration, default_value = "5s", help_heading = "Load")]
    timeout: Duration,
    /// Send only part I of N equal parts of the load, as `2/3`; `auto/N` takes the part from
    /// JOB_COMPLETION_INDEX (0-based, as a Kubernetes Indexed Job sets it). See SEVERAL HOSTS.
    #[arg(long, value_name = "I/N", default_value_t = ShareSpec::default(), help_heading = "Load")]
    share: ShareSpec,
    /// Begin the measured window at this instant: Unix seconds (`1767225600.5`) or RFC 3339
    /// (`2026-01-01T00:00:00Z`), so that several hosts measure the same window.
    #[arg(long, value_name = "TIME", value_parser = parse_start_at, help_heading = "Load")]
    start_at: Option<std::time::SystemTime>,
    /// Open model: sends allowed to wait for a free connection before further ones are dropped
    /// [default: peak rate × timeout, at least 1000].
    #[arg(long, help_heading = "Load")]
    max_backlog: Option<usize>,

    /// Run a flow: chained requests, later ones filled with values taken from earlier
    /// responses (see FLOWS below). The positional argument is then the base URL.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["body", "body_file"], help_heading = "Request")]
    flow: Option<PathBuf>,
    /// HTTP method.
    #[arg(short = 'X', long, default_value = "GET", help_heading = "Request")]
    method: String,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", help_heading = "Request")]
    headers: Vec<String>,
    /// Send this file's content as the request body (may hold placeholders).
    #[arg(long, help_heading = "Request")]
    body_file: Option<PathBuf>,
    /// Send this text as the request body (may hold placeholders).
    #[arg(long, conflicts_with = "body_file", help_heading = "Request")]
    body: Option<String>,
    /// Send `Authorization: Bearer TOKEN` (the scheme is --auth-scheme's). Prefer
    /// --bearer-file to keep tokens out of shell history.
    #[arg(long, help_heading = "Request")]
    bearer: Option<String>,
    /// Read the bearer token from this file.
    #[arg(long, conflicts_with = "bearer", help_heading = "Request")]
    bearer_file: Option<PathBuf>,
    /// The scheme --bearer and --bearer-file send: `Authorization: NAME TOKEN` (RealWorld
    /// APIs want `Token`).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "Bearer",
        help_heading = "Request"
    )]
    auth_scheme: String,
    /// Fill `{NAME}` in the URL and body from FILE, one value per line (repeatable):
    /// `--values id=ids.txt`. A bare FILE fills the only placeholder, `{id}` by default.
    #[arg(long = "values", value_name = "NAME=FILE", help_heading = "Request")]
    values: Vec<String>,
    /// How values are picked.
    #[arg(long, value_enum, default_value_t = OrderArg::Random, help_heading = "Request")]
    values_order: OrderArg,
    /// Seed for random picks, to repeat a run's exact sequence of requests.
    #[arg(long, default_value_t = 0x5EED, help_heading = "Request")]
    seed: u64,

    /// Speak HTTP/2 instead of HTTP/1.1: over cleartext (prior knowledge) for http://; for
    /// https://, ALPN offers only `h2`, and the run stops (exit 1) if the server does not
    /// agree.
    #[arg(long, help_heading = "Protocol")]
    http2: bool,
    /// HTTP/2: concurrent streams per connection.
    #[arg(
        long,
        default_value_t = 1,
        requires = "http2",
        help_heading = "Protocol"
    )]
    streams: usize,

    /// https://: trust the CA certificates of this PEM file too, beside the Mozilla roots
    /// built in.
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    cacert: Option<PathBuf>,
    /// https://: do not verify the server's certificate at all. Every report says so.
    #[arg(long, help_heading = "TLS")]
    insecure: bool,
    /// https://: present this client certificate chain (PEM), for servers that require one
    /// (mTLS); with --key.
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "TLS")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS")]
    key: Option<PathBuf>,
    /// https://: open a fresh connection and make a full handshake (no session resumption)
    /// for every request, to measure what a handshake costs the server.
    #[arg(long, help_heading = "TLS")]
    tls_handshake_per_request: bool,

    /// Write the full result as JSON (schema in docs/ferry.md).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    json: Option<PathBuf>,
    /// Write the per-second time series as CSV.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    csv: Option<PathBuf>,
    /// Fail (exit 3) unless every bound holds, e.g. `p99<5ms,errors<0.1%`. Metrics: p50, p75,
    /// p90, p99, p99.9, max, mean (corrected latency; service_p99 etc. for service time),
    /// errors, late, dropped (as a count, or a % of requests), rps.
    #[arg(long, value_parser = parse_objectives, help_heading = "Output")]
    slo: Option<Objectives>,
    /// Print nothing but errors and SLO breaches.
    #[arg(short = 'q', long, help_heading = "Output")]
    quiet: bool,
    /// Don't draw the live progress line (it is only drawn on a terminal anyway).
    #[arg(long, help_heading = "Output")]
    no_progress: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrderArg {
    Random,
    RoundRobin,
}

/// A bad command line, as clap exits on one.
const EXIT_USAGE: u8 = 2;
/// A part that would begin after its `--start-at`.
const EXIT_START_MISSED: u8 = 6;

/// Above this share of errors `ferry load` warns on stderr.
const ERROR_WARNING_RATIO: f64 = 0.01;

pub fn load(args: LoadArgs) -> Result<ExitCode> {
    let job_index = std::env::var(JOB_INDEX_VAR).ok();
    let share = match args.share.resolve(job_index.as_deref()) {
        Ok(share) => share,
        Err(error) => {
            eprintln!("ferry: {error:#}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let settings = settings_from(&args, share)?;
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C: the user does not want to wait for the report.
            std::process::exit(130);
        }
        eprintln!("\nferry: stopping; in-flight requests finish, then the report (Ctrl-C again to quit now)");
    })
    .context("installing the Ctrl-C handler")?;
    let result = match ferry::load::run_until_stopped(&settings, stop) {
        Err(error) if error.downcast_ref::<StartMissed>().is_some() => {
            eprintln!("ferry: {error:#}");
            return Ok(ExitCode::from(EXIT_START_MISSED));
        }
        outcome => outcome?,
    };
    // Always, even with -q: a run that is mostly errors measured the error path, not the
    // service. The exit status is --slo's to decide.
    if result.totals.error_ratio > ERROR_WARNING_RATIO {
        eprintln!(
            "warning: {} % of the requests were errors (the most frequent: {}); these figures \
             measure the error path, not the service's normal work",
            ferry::units::format_percent(result.totals.error_ratio * 100.0),
            result.totals.top_error_text().unwrap_or_default()
        );
    }
    if !args.quiet {
        print!("{}", report::summary::render(&result));
    }
    if let Some(path) = &args.json {
        result.write_json_file(path)?;
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, report::csv::render_time_series(&result))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(check_slo(
        args.slo.as_ref().map(|objectives| objectives.0.as_slice()),
        &result,
        args.quiet,
    ))
}
