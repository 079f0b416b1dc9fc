//! Two load hosts and one target, each in a network namespace this test makes: shares 1/2
//! and 2/2 with one `--start-at`, merged into the whole load and one timeline; then host 2's
//! link is cut halfway by an nftables drop rule, and the merge shows its errors beside host
//! 1's intact requests, and fails the SLO gate.
//!
//! Needs root, iproute2 and nftables, so it is ignored by default; `scripts/ci/distributed.sh`
//! runs it (`cargo test -p ferry --test ferry distributed_netns:: -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferry::load::RunResult;

const TARGET: &str = "10.231.0.1:8080";
/// The whole load: 1,000 requests/s, split over the two hosts.
const RATE: u64 = 1_000;

fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/netns-lab.sh")
}

/// Runs a function of scripts/netns-lab.sh.
fn lab_call(call: &str) {
    let script = lab_script();
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && {call}", script.display()))
        .status()
        .expect("running bash");
    assert!(status.success(), "`{call}` failed");
}

/// The namespaces, the target server and the lab's removal at the end, however it ends.
struct Lab {
    name: String,
    server: Child,
    dir: PathBuf,
}

impl Lab {
    fn up() -> Lab {
        let name = format!("ferry{}", std::process::id());
        lab_call(&format!("netns_lab_down {name}; netns_lab_up {name}"));
        let dir = std::env::temp_dir().join(format!("{name}-distributed"));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Command::new("ip")
            .args(["netns", "exec", &format!("{name}-target")])
            .args([
                env!("CARGO_BIN_EXE_ferry"),
                "serve-plaintext",
                "--addr",
                TARGET,
            ])
            .args(["-t", "1"])
            .stdout(Stdio::null())
            .spawn()
            .expect("starting ferry serve-plaintext in the target namespace");
        let lab = Lab { name, server, dir };
        lab.wait_for_target();
        lab
    }

    fn namespace(&self, host: &str) -> String {
        format!("{}-{host}", self.name)
    }

    fn wait_for_target(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let probe = format!("exec 3<>/dev/tcp/{}", TARGET.replace(':', "/"));
        while Instant::now() < deadline {
            let reached = Command::new("ip")
                .args(["netns", "exec", &self.namespace("h1"), "bash", "-c", &probe])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if reached {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the target in {} never answered", self.namespace("target"));
    }

    /// Starts `ferry load` with `share` from namespace `host`.
    fn load(&self, host: &str, share: &str, args: &[&str], json: &Path) -> Child {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.namespace(host),
                env!("CARGO_BIN_EXE_ferry"),
            ])
            .args(["load", "--share", share, "-t", "1", "-q", "--json"])
            .arg(json)
            .args(args)
            .arg(format!("http://{TARGET}/"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting ferry load in a host namespace")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        lab_call(&format!("netns_lab_down {}", self.name));
    }
}

fn finish(child: Child) -> Output {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn merge(parts: &[&Path], merged: &Path, slo: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["report", "--merge"])
        .args(parts)
        .arg("--json")
        .arg(merged)
        .args(["--slo", slo])
        .output()
        .unwrap()
}

fn unix_seconds(time: SystemTime) -> String {
    format!(
        "{:.3}",
        time.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    )
}

/// Runs both shares for `seconds` from a common start 2 s ahead; `during` runs meanwhile,
/// given the start.
fn both_shares(
    lab: &Lab,
    tag: &str,
    seconds: u64,
    extra: &[&str],
    during: impl FnOnce(SystemTime),
) -> (PathBuf, PathBuf) {
    let start = SystemTime::now() + Duration::from_secs(2);
    let start_text = unix_seconds(start);
    let rate = RATE.to_string();
    let duration = format!("{seconds}s");
    let mut args = vec![
        "--rate",
        &rate,
        "-d",
        &duration,
        "-c",
        "16",
        "--start-at",
        &start_text,
    ];
    args.extend_from_slice(extra);
    let first = lab.dir.join(format!("{tag}-h1.json"));
    let second = lab.dir.join(format!("{tag}-h2.json"));
    let one = lab.load("h1", "1/2", &args, &first);
    let two = lab.load("h2", "2/2", &args, &second);
    during(start);
    finish(one);
    finish(two);
    (first, second)
}

#[test]
#[ignore = "needs root, iproute2 and nftables: scripts/ci/distributed.sh runs it"]
fn two_namespaced_hosts_merge_exactly_and_a_cut_link_shows() {
    let lab = Lab::up();

    // Both hosts intact: the merge is the whole load, R × duration, on one timeline.
    let seconds = 4;
    let (first, second) = both_shares(&lab, "clean", seconds, &[], |_| {});
    let merged_path = lab.dir.join("clean-merged.json");
    let output = merge(&[&first, &second], &merged_path, "errors<0.1%");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let merged = RunResult::from_json_file(&merged_path).unwrap();
    let expected = RATE * seconds;
    let totals = &merged.totals;
    assert_eq!(totals.requests + totals.dropped, expected);
    assert!(
        totals.requests.abs_diff(expected) * 100 <= expected,
        "{} requests, expected {expected} ± 1%",
        totals.requests
    );
    assert_eq!(merged.time_series.len() as u64, seconds, "one timeline");
    assert_eq!(merged.merged_from.len(), 2);

    // Host 2's link cut halfway through: its requests time out from then on.
    let seconds = 6;
    let (first, second) = both_shares(&lab, "cut", seconds, &["--timeout", "1s"], |start| {
        let halfway = start + Duration::from_secs(seconds / 2);
        if let Ok(wait) = halfway.duration_since(SystemTime::now()) {
            std::thread::sleep(wait);
        }
        lab_call(&format!("netns_lab_cut {} h2", lab.name));
    });
    let intact = RunResult::from_json_file(&first).unwrap();
    let cut = RunResult::from_json_file(&second).unwrap();
    let half = RATE * seconds / 2;
    assert_eq!(intact.totals.error_count, 0, "host 1 was never cut");
    assert_eq!(intact.totals.dropped, 0);
    assert_eq!(intact.totals.requests, half, "host 1 sent its whole share");
    assert!(
        cut.totals.error_count > 0,
        "host 2's cut must show as errors"
    );
    assert_eq!(
        cut.totals.errors.timeout + cut.totals.errors.connect,
        cut.totals.error_count,
        "a dropped link shows as timeouts (or failed connects), nothing else"
    );

    let merged_path = lab.dir.join("cut-merged.json");
    let output = merge(&[&first, &second], &merged_path, "errors<0.1%");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "the SLO gate fails: {stdout}"
    );
    assert!(stdout.contains("SLO BREACH errors<0.1%"), "{stdout}");
    let merged = RunResult::from_json_file(&merged_path).unwrap();
    assert_eq!(
        merged.totals.error_count, cut.totals.error_count,
        "the merge holds host 2's errors and no others"
    );
    assert_eq!(
        merged.totals.responses,
        intact.totals.responses + cut.totals.responses
    );
    // The timeline shows the cut: clean before it, errors after.
    let errors_before: u64 = merged.time_series[..2]
        .iter()
        .map(|point| point.error_count)
        .sum();
    let errors_after: u64 = merged.time_series[3..]
        .iter()
        .map(|point| point.error_count)
        .sum();
    assert_eq!(errors_before, 0, "{:?}", merged.time_series);
    assert!(errors_after > 0, "{:?}", merged.time_series);
}
