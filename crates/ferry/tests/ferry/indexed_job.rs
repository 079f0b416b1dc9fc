//! Issue 22: ferry's distributed run as a Kubernetes Indexed Job. There is no cluster here,
//! so this runs the Job's container command as `deploy/kubernetes/ferry-load-job.yaml`
//! writes it, once per completion index with `JOB_COMPLETION_INDEX` set as Kubernetes sets
//! it, against one local target, and merges the parts as `ferry-merge-job.yaml` does. Only
//! what cannot run here is replaced: the start time Kubernetes would fill in, the results
//! volume (a folder per index), the target's URL, and, to keep the test short, the rate and
//! the durations.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry::load::RunResult;

use crate::support::servers;

/// The manifest's `completions:` and its container's `args:`, read as text (the manifest is
/// plain YAML, one scalar per line, which scripts/ci/kubernetes.sh validates).
fn job_command(manifest: &str) -> (u32, Vec<String>) {
    let completions = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("completions:"))
        .and_then(|value| value.split('#').next()?.trim().parse().ok())
        .expect("the Job says its completions");
    // The list under `args:`, comments skipped, up to the next key.
    let args = manifest
        .lines()
        .skip_while(|line| line.trim() != "args:")
        .skip(1)
        .filter(|line| !line.trim_start().starts_with('#'))
        .take_while(|line| line.trim_start().starts_with("- "))
        .map(|line| {
            line.trim_start()
                .trim_start_matches("- ")
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .collect::<Vec<_>>();
    assert!(!args.is_empty(), "the Job's container has args");
    (completions, args)
}

/// `args` with what only a cluster gives replaced, and the run shortened.
fn as_run_here(args: &[String], start_at: &str, out: &Path, url: &str) -> Vec<String> {
    let mut filled = Vec::with_capacity(args.len());
    let mut previous = "";
    for arg in args {
        let value = match (previous, arg.as_str()) {
            (_, "$(START_AT)") => start_at.to_string(),
            (_, "/out/part.json") => out.to_str().unwrap().to_string(),
            (_, target) if target.starts_with("http://") => url.to_string(),
            ("--rate", _) => "400".to_string(),
            ("-d", _) => "1s".to_string(),
            ("--warmup", _) => "0s".to_string(),
            _ => arg.clone(),
        };
        previous = arg;
        filled.push(value);
    }
    filled
}

#[test]
fn the_indexed_jobs_command_runs_once_per_index_and_its_parts_merge() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/ferry-load-job.yaml"),
    )
    .unwrap();
    let (completions, args) = job_command(&manifest);
    assert!(args.iter().any(|arg| arg == &format!("auto/{completions}")));
    let address = servers::start_server(servers::Behaviour::Plaintext);
    let dir = std::env::temp_dir().join(format!("ferry-indexed-job-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let start = (SystemTime::now() + Duration::from_secs(2))
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = format!("{start:.3}");
    let parts: Vec<_> = (0..completions)
        .map(|index| {
            let out = dir.join(format!("part-{index}.json"));
            let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
                .args(as_run_here(&args, &start, &out, &servers::url(address)))
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let mut files = Vec::new();
    for (index, (out, child)) in parts.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "index {index}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let part = RunResult::from_json_file(&out).unwrap();
        assert_eq!(
            part.share.to_string(),
            format!("{}/{completions}", index + 1)
        );
        files.push(out);
    }
    let merged = dir.join("merged.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["report", "--merge"])
        .args(&files)
        .arg("--json")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let merged = RunResult::from_json_file(&merged).unwrap();
    assert_eq!(merged.merged_from.len(), completions as usize);
    assert!(merged.totals.requests > 0);
    assert_eq!(merged.totals.error_count, 0);
}
