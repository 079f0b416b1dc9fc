//! A distributed run on one machine: two `ferry load --share` processes with one
//! `--start-at` against one server, merged by `ferry report --merge`, gated by `--slo`.
//! (The same across network namespaces, with a link cut, is `distributed_netns.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry::load::RunResult;

use crate::support::servers;

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("running the ferry binary cargo built for this test")
}

/// `ferry ARGS`, with JOB_COMPLETION_INDEX set to `job_index` (unset for `None`).
fn spawn_ferry(job_index: Option<&str>, args: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    match job_index {
        Some(index) => command.env("JOB_COMPLETION_INDEX", index),
        None => command.env_remove("JOB_COMPLETION_INDEX"),
    };
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the ferry binary cargo built for this test")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-dist-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8 here")
}

/// Unix seconds, `ahead` from now.
fn unix_seconds_in(ahead: Duration) -> f64 {
    (SystemTime::now() + ahead)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs shares 1/2 and 2/2 at once, at 1,000/s in all for 2 s, from one common start.
fn two_shares(dir: &Path, url: &str) -> (PathBuf, PathBuf, u64) {
    let start_at = unix_seconds_in(Duration::from_millis(1_500));
    let start = format!("{start_at:.3}");
    // The second part as a Kubernetes Indexed Job's pod gives it: `auto/2` and its
    // 0-based JOB_COMPLETION_INDEX.
    let parts: Vec<(PathBuf, Child)> = [("1/2", None), ("auto/2", Some("1"))]
        .iter()
        .enumerate()
        .map(|(index, (share, job_index))| {
            let json = dir.join(format!("part{}.json", index + 1));
            let child = spawn_ferry(
                *job_index,
                &[
                    "load",
                    "--rate",
                    "1000",
                    "-d",
                    "2s",
                    "-c",
                    "8",
                    "--share",
                    share,
                    "--start-at",
                    &start,
                    "--json",
                    path(&json),
                    "-q",
                    url,
                ],
            );
            (json, child)
        })
        .collect();
    let mut files = Vec::new();
    for (json, child) in parts {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        files.push(json);
    }
    let second = files.pop().unwrap();
    let first = files.pop().unwrap();
    (first, second, (start_at * 1000.0).round() as u64)
}

#[test]
fn two_shares_with_one_start_merge_into_the_whole_load() {
    let address = servers::start_server(servers::Behaviour::Plaintext);
    let dir = scratch_dir("merge");
    let (first, second, start_ms) = two_shares(&dir, &servers::url(address));
    for (file, index) in [(&first, 1), (&second, 2)] {
        let part = RunResult::from_json_file(file).unwrap();
        assert_eq!(part.share.to_string(), format!("{index}/2"));
        assert_eq!(part.settings.connections, 4, "each share opens half of -c");
        // Half of the schedule each, every other tick: exactly 1,000 sends (a send the backlog
        // could not hold is counted as dropped, never lost).
        assert_eq!(
            part.totals.requests + part.totals.dropped,
            1_000,
            "share {index}/2"
        );
        // The measured window began at --start-at by this host's clock.
        assert!(
            part.started_at_unix_ms + 1 >= start_ms && part.started_at_unix_ms < start_ms + 1_000,
            "share {index}/2 started at {} for a start at {start_ms}",
            part.started_at_unix_ms
        );
    }

    let merged_json = dir.join("merged.json");
    let output = ferry(&[
        "report",
        "--merge",
        path(&first),
        path(&second),
        "--json",
        path(&merged_json),
        "--slo",
        "errors<1%",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("merged from 2 runs"), "{stdout}");
    assert!(stdout.contains("SLO ok"), "{stdout}");
    let merged = RunResult::from_json_file(&merged_json).unwrap();
    assert_eq!(merged.totals.requests + merged.totals.dropped, 2_000);
    assert_eq!(merged.totals.error_count, 0);
    assert_eq!(merged.settings.connections, 8);
    assert_eq!(merged.time_series.len(), 2, "one timeline of the 2 s");
    for point in &merged.time_series {
        assert_eq!(
            point.requests + point.dropped,
            1_000,
            "second {}",
            point.second
        );
    }

    // The merged result is the gate: a bound it breaks fails with exit status 3.
    let output = ferry(&[
        "report",
        "--merge",
        path(&first),
        path(&second),
        "--slo",
        "p50<1us",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("SLO BREACH"));

    // The same share twice is refused, with the reason.
    let output = ferry(&["report", "--merge", path(&first), path(&first)]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("overlapping shares"), "{stderr}");
}

#[test]
fn bad_shares_and_starts_are_refused() {
    let url = servers::url(servers::refused_address());
    let output = ferry(&["load", "--share", "3/2", "-d", "1s", &url]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad --share is a usage error"
    );
    assert!(text(&output.stderr).contains("1 ≤ I ≤ N"));

    let output = ferry(&["load", "--share", "3/4", "-c", "2", "-d", "1s", &url]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("leaves this part none"));

    // A part that would begin after the common start measures nothing (issue 22: exit 6).
    let past = format!("{:.3}", unix_seconds_in(Duration::ZERO) - 5.0);
    let output = ferry(&["load", "--start-at", &past, "-d", "1s", &url]);
    assert_eq!(output.status.code(), Some(6));
    assert!(text(&output.stderr).contains("in the past"));
    let soon = format!("{:.3}", unix_seconds_in(Duration::from_millis(200)));
    let output = ferry(&[
        "load",
        "--start-at",
        &soon,
        "--warmup",
        "2s",
        "-d",
        "1s",
        &url,
    ]);
    assert_eq!(output.status.code(), Some(6));
    assert!(text(&output.stderr).contains("less than the"));

    // `auto/N` without the Indexed Job's variable is a usage error, saying what is missing.
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["load", "--share", "auto/3", "-d", "1s", &url])
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("JOB_COMPLETION_INDEX"));

    let output = ferry(&["load", "--start-at", "next tuesday", "-d", "1s", &url]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("RFC 3339"));

    let output = ferry(&["report", "--json", "x.json", "a.json"]);
    assert_eq!(output.status.code(), Some(2), "--json needs --merge");
}
