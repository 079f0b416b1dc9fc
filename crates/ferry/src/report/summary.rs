//! The human summary printed after a run, in the spirit of wrk and hey.

use std::fmt::Write;

use crate::load::RunResult;
use crate::load::result::{Percentiles, SettingsRecord, Totals};
use crate::load::tls::TlsRecord;
use crate::units::{format_count, format_micros, format_seconds};

/// Renders a run as the text `ferry load` prints.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    render_header(&mut out, result);
    if let Some(tls) = &result.settings.tls {
        render_tls(&mut out, tls);
    }
    render_targets(&mut out, result);
    render_origin(&mut out, result);
    if result.totals.interrupted {
        let _ = writeln!(out, "  interrupted: the run was stopped early");
    }
    out.push('\n');
    render_totals(&mut out, result);
    out.push('\n');
    render_latency(&mut out, result);
    out.push('\n');
    render_status(&mut out, &result.totals);
    render_errors(&mut out, &result.totals);
    render_flow(&mut out, result);
    out
}

/// The model in a few words: open with its schedule, or closed with its request limit.
fn describe_model(settings: &SettingsRecord) -> String {
    match &settings.rate_schedule {
        Some(schedule) => format!("open model, rate {schedule}"),
        None => match settings.request_limit {
            Some(limit) => format!("closed model, {} requests", format_count(limit)),
            None => "closed model".to_string(),
        },
    }
}

/// The protocol spoken, with HTTP/2's streams per connection.
fn describe_http(settings: &SettingsRecord) -> String {
    match settings.http {
        crate::load::HttpVersion::Http1 => "HTTP/1.1".to_string(),
        crate::load::HttpVersion::Http2 => {
            format!("HTTP/2 × {} streams", settings.streams_per_connection)
        }
    }
}

/// The first two lines: the command, model and durations; connections, threads, timeout.
fn render_header(out: &mut String, result: &RunResult) {
    let settings = &result.settings;
    let command = if result.merged_from.is_empty() {
        "ferry load"
    } else {
        "ferry report --merge"
    };
    let _ = writeln!(
        out,
        "{command}: {}, {} measured after {} warm-up",
        describe_model(settings),
        format_seconds(result.totals.duration_s),
        format_seconds(settings.warmup_s)
    );
    let _ = writeln!(
        out,
        "  {} connections ({}) on {} threads, timeout {}",
        settings.connections,
        describe_http(settings),
        settings.threads,
        format_micros(settings.timeout_ms as f64 * 1e3)
    );
}

/// What TLS agreed, after a warning when the certificate went unverified.
fn render_tls(out: &mut String, tls: &TlsRecord) {
    if tls.insecure {
        let _ = writeln!(
            out,
            "  INSECURE: the server's certificate was not verified (--insecure)"
        );
    }
    let _ = writeln!(
        out,
        "  TLS {}, {}, ALPN {}; {}",
        tls.version,
        tls.cipher_suite,
        tls.alpn.as_deref().unwrap_or("none"),
        if tls.handshake_per_request {
            "a full handshake per request"
        } else {
            "sessions resumed on reconnect"
        }
    );
}

/// One line per target: a flow's numbered steps, or requests with their weights when several.
fn render_targets(out: &mut String, result: &RunResult) {
    let targets = &result.settings.targets;
    for (index, target) in targets.iter().enumerate() {
        if result.flow.is_some() {
            let _ = writeln!(
                out,
                "  step {}: {} {}",
                index + 1,
                target.method,
                target.url
            );
            continue;
        }
        let weight = if targets.len() > 1 {
            format!("  (weight {})", target.weight)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {} {}{weight}", target.method, target.url);
    }
}

/// Where the load came from: the runs a merge added up, or this host's share of it.
fn render_origin(out: &mut String, result: &RunResult) {
    if !result.merged_from.is_empty() {
        let _ = writeln!(out, "  merged from {} runs:", result.merged_from.len());
        for part in &result.merged_from {
            let _ = writeln!(
                out,
                "    share {} on {} from {}: {} requests, second 0 at +{} s",
                part.share,
                part.host,
                part.file,
                format_count(part.requests),
                part.second_offset
            );
        }
    } else if !result.share.is_whole() {
        let _ = writeln!(
            out,
            "  share {} of the load, on {}",
            result.share, result.host
        );
    }
}

/// The counts: requests, throughput, the open model's late and dropped sends, bytes, connects.
fn render_totals(out: &mut String, result: &RunResult) {
    let totals = &result.totals;
    let _ = writeln!(
        out,
        "  Requests     {} sent, {} responses",
        format_count(totals.requests),
        format_count(totals.responses)
    );
    let _ = writeln!(
        out,
        "  Throughput   {:.1} responses/s ({:.1} requests/s)",
        totals.throughput_rps, totals.request_rate_rps
    );
    if result.settings.model == "open" {
        let _ = writeln!(
            out,
            "  Late         {} sends waited for a free connection",
            format_count(totals.late)
        );
        let _ = writeln!(
            out,
            "  Dropped      {} sends never made (backlog full, or run over)",
            format_count(totals.dropped)
        );
    }
    let _ = writeln!(
        out,
        "  Transferred  {} body bytes",
        format_count(totals.body_bytes)
    );
    render_connects(out, result);
    out.push('\n');
}

/// Connects and, over TLS, handshakes, each with its mean time, on one line (no newline).
fn render_connects(out: &mut String, result: &RunResult) {
    let totals = &result.totals;
    let mean = |mean: Option<f64>| mean.map_or_else(|| "-".to_string(), format_micros);
    let _ = write!(
        out,
        "  Connects     {} (mean {})",
        format_count(totals.connects),
        mean(totals.connect_time_us_mean)
    );
    if result.settings.tls.is_some() {
        let _ = write!(
            out,
            ", TLS handshakes {} (mean {})",
            format_count(totals.handshakes),
            mean(totals.handshake_time_us_mean)
        );
    }
}

/// The responses by status code.
fn render_status(out: &mut String, totals: &Totals) {
    let statuses: Vec<String> = totals
        .status
        .iter()
        .map(|(status, count)| format!("{status}: {}", format_count(*count)))
        .collect();
    let _ = writeln!(
        out,
        "  Status       {}",
        if statuses.is_empty() {
            "no responses".to_string()
        } else {
            statuses.join(", ")
        }
    );
}

/// The errors by kind, and the responses a flow's extract found nothing in.
fn render_errors(out: &mut String, totals: &Totals) {
    let errors = &totals.errors;
    if totals.error_count == 0 {
        let _ = writeln!(out, "  Errors       none");
        return;
    }
    let _ = writeln!(
        out,
        "  Errors       {} ({:.3}% of requests): connect {}, timeout {}, reset {}, other {}, 4xx {}, 5xx {}",
        format_count(totals.error_count),
        totals.error_ratio * 100.0,
        format_count(errors.connect),
        format_count(errors.timeout),
        format_count(errors.reset),
        format_count(errors.other),
        format_count(errors.status_4xx),
        format_count(errors.status_5xx),
    );
    if errors.extract > 0 {
        let _ = writeln!(
            out,
            "               {} responses gave no value for a flow's extract",
            format_count(errors.extract)
        );
    }
}

/// A flow's iterations and steps, after the requests' figures.
fn render_flow(out: &mut String, result: &RunResult) {
    let Some(flow) = &result.flow else { return };
    let _ = writeln!(
        out,
        "\n  Flow         {} iterations, {} failed; {:.1} completed/s",
        format_count(flow.iterations),
        format_count(flow.failed),
        flow.throughput_rps
    );
    // "—" where nothing was timed: a latency of 0 would read as free.
    let time = |latency: &Percentiles, value: u64| {
        if latency.count == 0 {
            "—".to_string()
        } else {
            format_micros(value as f64)
        }
    };
    let _ = writeln!(
        out,
        "               latency from intended start to last response: p50 {}, p99 {}, max {}",
        time(&flow.latency, flow.latency.p50_us),
        time(&flow.latency, flow.latency.p99_us),
        time(&flow.latency, flow.latency.max_us)
    );
    for (index, step) in flow.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "    step {}  {:<32} {:>9} requests  {:>7} errors  p50 {:>8}  p99 {:>8}",
            index + 1,
            step.name,
            format_count(step.requests),
            format_count(step.errors),
            time(&step.latency, step.latency.p50_us),
            time(&step.latency, step.latency.p99_us)
        );
    }
}

/// Reads one figure out of a latency summary.
type PercentileOf = fn(&Percentiles) -> f64;

fn render_latency(out: &mut String, result: &RunResult) {
    let corrected = &result.latency.corrected;
    let service = &result.latency.service;
    let open = result.settings.model == "open";
    if open {
        let _ = writeln!(out, "  Latency      {:>10}  {:>10}", "corrected", "service");
        let _ = writeln!(out, "               {:>10}  {:>10}", "(intended)", "(sent)");
    } else {
        let _ = writeln!(out, "  Latency");
    }
    let rows: [(&str, PercentileOf); 7] = [
        ("p50", |p| p.p50_us as f64),
        ("p75", |p| p.p75_us as f64),
        ("p90", |p| p.p90_us as f64),
        ("p99", |p| p.p99_us as f64),
        ("p99.9", |p| p.p99_9_us as f64),
        ("max", |p| p.max_us as f64),
        ("mean", |p| p.mean_us),
    ];
    for (name, value) in rows {
        let show = |percentiles: &Percentiles| {
            if percentiles.count == 0 {
                "-".to_string()
            } else {
                format_micros(value(percentiles))
            }
        };
        if open {
            let _ = writeln!(
                out,
                "    {name:<9}  {:>10}  {:>10}",
                show(corrected),
                show(service)
            );
        } else {
            let _ = writeln!(out, "    {name:<9}  {:>10}", show(corrected));
        }
    }
    if corrected.count > 0 {
        let _ = writeln!(
            out,
            "    {:<9}  {:>10}{}",
            "stdev",
            format_micros(corrected.stdev_us),
            if open {
                format!("  {:>10}", format_micros(service.stdev_us))
            } else {
                String::new()
            }
        );
    }
}
