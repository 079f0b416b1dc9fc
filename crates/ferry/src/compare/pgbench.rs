//! The database's own ceiling: `pgbench -S -M prepared` (primary-key reads, prepared) on the
//! same server, in a database of its own, so the services' read throughput can be read as a
//! fraction of what PostgreSQL itself serves on this machine.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::database::Database;

const DATABASE: &str = "ferry_pgbench";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgbenchResult {
    /// Transactions (one primary-key SELECT each) per second: the best run's.
    pub tps: f64,
    /// The best run's client count.
    pub clients: u32,
    /// Every run, one per client count of the lab's `pgbench_clients`.
    #[serde(default)]
    pub runs: Vec<PgbenchRun>,
    pub duration_s: f64,
    pub scale: u32,
    pub command: String,
}

/// One pgbench run at one client count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgbenchRun {
    pub clients: u32,
    pub tps: f64,
}

/// Initialises the pgbench tables at `scale` and runs the read-only test for `duration` at
/// each of `clients`; the best run is the database's ceiling.
pub fn run(
    database: &Database,
    scale: u32,
    clients: &[u32],
    duration: Duration,
    log: &Path,
) -> Result<PgbenchResult> {
    let url = database.create_sibling(DATABASE)?;
    let init = database
        .client("pgbench")
        .args(["-i", "-q", "-s", &scale.to_string(), &url])
        .output()
        .context("running pgbench (install the PostgreSQL client tools)")?;
    append_log(log, &init);
    if !init.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr).trim()
        );
    }
    let seconds = duration.as_secs().max(1);
    let mut best: Option<PgbenchResult> = None;
    let mut runs = Vec::with_capacity(clients.len());
    for &count in clients {
        let result = run_at(database, &url, scale, count, seconds, log)?;
        runs.push(PgbenchRun {
            clients: count,
            tps: result.tps,
        });
        if best.as_ref().is_none_or(|best| result.tps > best.tps) {
            best = Some(result);
        }
    }
    let mut best = best.context("pgbench needs at least one client count")?;
    best.runs = runs;
    Ok(best)
}

/// One `pgbench -S` run at `clients`.
fn run_at(
    database: &Database,
    url: &str,
    scale: u32,
    clients: u32,
    seconds: u64,
    log: &Path,
) -> Result<PgbenchResult> {
    let args = [
        "-S".to_string(),
        "-M".into(),
        "prepared".into(),
        "-n".into(),
        "-c".into(),
        clients.to_string(),
        "-j".into(),
        clients.to_string(),
        "-T".into(),
        seconds.to_string(),
    ];
    let output = database
        .client("pgbench")
        .args(&args)
        .arg(url)
        .output()
        .context("running pgbench")?;
    append_log(log, &output);
    if !output.status.success() {
        bail!(
            "pgbench -S failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tps = parse_tps(&stdout)
        .with_context(|| format!("no `tps = ` line in pgbench's output:\n{stdout}"))?;
    Ok(PgbenchResult {
        tps,
        clients,
        runs: Vec::new(),
        duration_s: seconds as f64,
        scale,
        command: format!("pgbench {} <db>", args.join(" ")),
    })
}

fn append_log(log: &Path, output: &Output) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::File::options().create(true).append(true).open(log) {
        let _ = file.write_all(&output.stdout);
        let _ = file.write_all(&output.stderr);
    }
}

/// The `tps = N (without initial connection time)` figure.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tps = "))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::parse_tps;

    #[test]
    fn the_tps_line_is_found() {
        let out = "latency average = 0.030 ms\ninitial connection time = 3.1 ms\ntps = 65432.123456 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(65432.123456));
        assert_eq!(parse_tps("nothing"), None);
    }
}
