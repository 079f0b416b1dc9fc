//! Throughput of the `/api/v1/process` body parser on a 10,000-record batch: the
//! CPU-bound hot path, for comparing builds (e.g. `panic = "abort"` against
//! `panic = "unwind"`, see the README). Prints records per second.
//!
//!   cargo run --release -p parsing --example parse_throughput [seconds]
//!
//! `runs=N` parses exactly N batches instead (for instruction counts under
//! `valgrind --tool=callgrind`, which a loaded machine does not disturb).

use std::time::{Duration, Instant};

use parsing::process::parse::{Parser, TopLevel};

fn batch() -> String {
    let mut body = String::from(r#"{"records":["#);
    for index in 0..10_000u32 {
        if index > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"user_id":"0192f0c1-8a2b-7c3d-8e4f-{index:012x}","amount_cents":{},"currency":"{}","tags":["t{}","shared"],"ts":"2026-11-28T12:{:02}:56.789Z"}}"#,
            index * 37 % 100_000,
            ["EUR", "USD", "GBP"][index as usize % 3],
            index % 50,
            index % 60,
        ));
    }
    body.push_str("]}");
    body
}

fn main() {
    let argument = std::env::args().nth(1).unwrap_or_default();
    let (seconds, runs) = match argument.strip_prefix("runs=") {
        Some(runs) => (u64::MAX, runs.parse().unwrap_or(1)),
        None => (argument.parse().unwrap_or(5), u64::MAX),
    };
    let body = batch();
    let started = Instant::now();
    let mut records = 0usize;
    let mut done = 0u64;
    while done < runs && started.elapsed() < Duration::from_secs(seconds) {
        done += 1;
        match Parser::new(&body).body() {
            Ok(TopLevel::Object(Some(batch))) => records += batch.records,
            _ => unreachable!("the generated batch is a valid object with records"),
        }
    }
    println!("{:.0}", records as f64 / started.elapsed().as_secs_f64());
}
