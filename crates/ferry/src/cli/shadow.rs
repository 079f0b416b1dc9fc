//! `ferry shadow` (replay) and `ferry shadow proxy`: the command line of [`ferry::shadow`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use ferry::load::TlsOptions;
use ferry::shadow::client::{Role, SendOptions, Upstream};
use ferry::shadow::proxy::{self, ProxySettings};
use ferry::shadow::replay::{self, ReplaySettings};
use ferry::shadow::report::{ShadowReport, terminal};
use ferry::shadow::routes::RouteTemplates;
use ferry::shadow::source::{MixDraw, read_requests};
use ferry::shadow::{ShadowSettings, ShadowTargets, ignore_list};
use ferry::units::{parse_duration, parse_rate};

const SHADOW_HELP: &str = "\
REQUESTS (--requests FILE, recognised from the content)
  request lines     `METHOD /path [TEMPLATE]` per line; blank lines and # comments skipped
  ferry target file the JSON of `ferry load --targets`; --count requests drawn from its mix
  access log        nginx or Apache combined format
  HAR               as browsers export it

ENDPOINTS (how requests are grouped in the report)
  1. the first --template whose shape the path has (`{name}` matches any one non-empty
     segment; the most literal template wins when several match), for every input kind and
     the proxy; 2. a request-line file's TEMPLATE; 3. otherwise UUID, number and long-hex
     segments become {id}, and, when the report is written, a position with at least 10
     distinct values among requests of the same method whose preceding segments are equal
     becomes {id} too (slugs, user names).

TLS (https:// targets)
  rustls with the Mozilla roots built in; --cacert adds roots, --cert/--key present a client
  certificate, --insecure verifies nothing (the report says so in its header, and its JSON
  has \"insecure\": true). Every https:// target gets one handshake before the run: a
  certificate error is one line naming the host and the reason, exit 1.

COMPARED
  status, headers (but --ignore and the default noise list: header.date, header.x-request-id,
  header.content-length, …), bodies: JSON by field path (body.items[].email) with kinds value,
  type, missing, extra, length, order; other bodies byte for byte, by SHA-256 over --body-limit.
  A field is a regression when the secondary never differs from the primary there and the
  candidate does, or when the candidate's rate exceeds the secondary's with z > 3.

EXIT STATUS
  0 no regression rate above --max-diff-rate; 4 otherwise; 1 the run could not be made (a
  target unreachable, an unreadable file, a target without response to over 10 % of requests).

EXAMPLES
  ferry shadow --primary http://old-a:8080 --secondary http://old-b:8080 \\
      --candidate http://new:8080 --requests reads.txt --json shadow.json --html shadow.html
  ferry shadow --primary https://old.staging:8443 --candidate https://new.staging:8443 \\
      --cacert staging-ca.pem --template '/api/articles/{slug}' --requests access.log
  ferry shadow proxy --listen 0.0.0.0:9000 --primary http://old-a:8080 \\
      --secondary http://old-b:8080 --candidate http://new:8080 --sample 0.1 --json shadow.json";

#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_long_help = SHADOW_HELP
)]
pub struct ShadowArgs {
    #[command(subcommand)]
    command: Option<ShadowCommand>,
    #[command(flatten)]
    replay: ReplayArgs,
}

#[derive(Subcommand)]
enum ShadowCommand {
    /// Serve clients from the primary and mirror their requests to the secondary and the
    /// candidate, from a bounded queue; report every --report-every and on SIGINT/SIGTERM.
    Proxy(Box<ProxyArgs>),
}

#[derive(Args)]
struct ReplayArgs {
    /// The requests to replay: request lines, a ferry target file, an access log or HAR.
    #[arg(long, required = true)]
    requests: Option<PathBuf>,
    /// Requests drawn from a target file's weighted mix.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Seed of the draw from a target file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Requests started per second at most (`200`, `200/s`, `1k/s`) [default: no limit].
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct ProxyArgs {
    /// Where clients connect (port 0 picks a free one; the address is printed).
    #[arg(long)]
    listen: SocketAddr,
    /// The share of requests mirrored, from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    sample: f64,
    /// How often the report files are rewritten.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    report_every: Duration,
    /// Mirrors waiting at most; when full, mirrors are dropped and counted.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct CommonArgs {
    /// The old service, whose answers are the reference (the proxy's clients get these).
    #[arg(long, required = true)]
    primary: Option<String>,
    /// A second copy of the old service: its differences from the primary are the noise.
    #[arg(long)]
    secondary: Option<String>,
    /// The new service.
    #[arg(long, required = true)]
    candidate: Option<String>,
    /// A header for the primary only, `Name: value` (repeatable).
    #[arg(long, value_name = "HEADER")]
    header_primary: Vec<String>,
    /// A header for the secondary only (repeatable).
    #[arg(long, value_name = "HEADER")]
    header_secondary: Vec<String>,
    /// A header for the candidate only (repeatable).
    #[arg(long, value_name = "HEADER")]
    header_candidate: Vec<String>,
    /// Send the request's original Host instead of each target's own.
    #[arg(long)]
    keep_host: bool,
    /// Also send POST, PUT, PATCH and DELETE to every target (each needs its own database).
    #[arg(long)]
    allow_writes: bool,
    /// Fields to class as noise, `*` matching anything: `body.*.updated_at` (repeatable).
    #[arg(long, value_name = "FIELD-GLOB")]
    ignore: Vec<String>,
    /// The highest regression rate that still passes (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    max_diff_rate: f64,
    /// Requests (replay) or mirrors (proxy) in flight at once.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// Per-request timeout, body included.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Bodies over this many bytes are compared by SHA-256, not held in memory.
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Name the endpoint of every path of this shape, `/api/articles/{slug}` (repeatable);
    /// before a request file's own template and the automatic rule.
    #[arg(long, value_name = "TEMPLATE")]
    template: Vec<String>,
    /// https://: trust the CA certificates of this PEM file too, beside the Mozilla roots
    /// built in.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// https://: do not verify the targets' certificates at all. The report says so.
    #[arg(long)]
    insecure: bool,
    /// https://: present this client certificate chain (PEM), for targets that require one
    /// (mTLS); with --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Don't draw the progress bar.
    #[arg(long)]
    no_progress: bool,
}

pub fn shadow(args: ShadowArgs) -> Result<ExitCode> {
    let report = match args.command {
        Some(ShadowCommand::Proxy(proxy_args)) => run_proxy(*proxy_args)?,
        None => run_replay(args.replay)?,
    };
    print!("{}", terminal::render_terminal(&report));
    Ok(ExitCode::from(report.exit_status))
}

fn run_replay(args: ReplayArgs) -> Result<ShadowReport> {
    let shadow = shadow_settings(&args.common)?;
    let Some(path) = args.requests else {
        bail!("--requests is required");
    };
    if args.rate.is_some_and(|rate| rate <= 0.0) {
        bail!("--rate must be above 0");
    }
    let draw = MixDraw {
        count: args.count.max(1),
        seed: args.seed,
    };
    let (format, requests) = read_requests(&path, draw)?;
    if shadow.progress {
        eprintln!(
            "replaying {} requests from {} ({})",
            requests.len(),
            path.display(),
            format.name()
        );
    }
    replay::run_replay(ReplaySettings {
        shadow,
        requests,
        rate: args.rate,
    })
}

fn run_proxy(args: ProxyArgs) -> Result<ShadowReport> {
    if !(0.0..=1.0).contains(&args.sample) {
        bail!("--sample must be between 0 and 1");
    }
    if args.report_every.is_zero() {
        bail!("--report-every must be above 0");
    }
    let shadow = shadow_settings(&args.common)?;
    proxy::run_proxy(
        ProxySettings {
            shadow,
            listen: args.listen,
            sample: args.sample,
            report_every: args.report_every,
            queue: args.queue,
        },
        |address| println!("listening on http://{address}"),
    )
}

fn shadow_settings(args: &CommonArgs) -> Result<ShadowSettings> {
    let (Some(primary), Some(candidate)) = (&args.primary, &args.candidate) else {
        bail!("--primary and --candidate are required");
    };
    if !(0.0..=1.0).contains(&args.max_diff_rate) {
        bail!("--max-diff-rate must be between 0 and 1");
    }
    if args.timeout.is_zero() {
        bail!("--timeout must be above 0");
    }
    Ok(ShadowSettings {
        targets: ShadowTargets {
            primary: Upstream::new(Role::Primary, primary, &args.header_primary)?,
            secondary: args
                .secondary
                .as_deref()
                .map(|url| Upstream::new(Role::Secondary, url, &args.header_secondary))
                .transpose()?,
            candidate: Upstream::new(Role::Candidate, candidate, &args.header_candidate)?,
        },
        send: SendOptions {
            timeout: args.timeout,
            body_limit: args.body_limit,
            keep_host: args.keep_host,
        },
        tls: TlsOptions {
            cacert: args.cacert.clone(),
            insecure: args.insecure,
            cert: args.cert.clone(),
            key: args.key.clone(),
            handshake_per_request: false,
        },
        templates: RouteTemplates::new(&args.template)?,
        allow_writes: args.allow_writes,
        ignore: ignore_list(&args.ignore),
        max_diff_rate: args.max_diff_rate,
        concurrency: args.concurrency.max(1),
        progress: !args.no_progress,
        json: args.json.clone(),
        html: args.html.clone(),
    })
}
