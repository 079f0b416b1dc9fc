//! The database's share (issue 19, finding 7): two servers answer the same count, one in
//! Python, one in the embedded PostgreSQL (a CPU-heavy query through one persistent
//! `psql`). The database's CPU must be sampled, and dominate for the second, and be counted
//! in CPU per request with the database; with `DATABASE_URL` (a server ferry did not
//! start) it is null, with a note. Properties, never speeds.

use std::path::{Path, PathBuf};

use super::{ferry_compare, number};
use crate::support::{read_json, scratch};

/// Counts 200,000 rows per request: in Python (`app`), or in PostgreSQL through one
/// persistent `psql` fed on its standard input (`sql`), so that the work is the database's.
const COUNTER: &str = r#"
import http.server, subprocess, sys, threading
port, url, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
psql = subprocess.Popen(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        if mode == "sql":
            with lock:
                psql.stdin.write("SELECT count(*) FROM generate_series(1, 200000);\n")
                psql.stdin.flush()
                count = psql.stdout.readline().strip()
        else:
            count = str(sum(1 for _ in range(200000)))
        body = (count + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

fn database_lab(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("counter.py"), COUNTER).expect("writing the server");
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        r#"name = "the count, in the app or in the database"

[database]
kind = "embedded"
pgbench = false

[[target]]
name = "in-app"
role = "baseline"
start = ["python3", "{dir}/counter.py", "{port}", "{database_url}", "app"]

[[target]]
name = "in-sql"
role = "candidate"
start = ["python3", "{dir}/counter.py", "{port}", "{database_url}", "sql"]

[[scenario]]
name = "count"
request = "GET /"
connections = 2
capacity = true
"#,
    )
    .expect("writing the lab");
    lab
}

#[test]
fn the_embedded_databases_cpu_is_sampled_and_counted_per_request() {
    let dir = scratch("database");
    let lab = database_lab(&dir);
    let out = dir.join("out");
    let output = ferry_compare(&lab, &out, &["--capacity-probes", "1"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = read_json(&out.join("compare.json"));
    let cap = number(&json["cores"], "cores") * 100.0;
    let mut shares = Vec::new();
    for target in json["targets"].as_array().expect("targets[]") {
        let name = target["name"].as_str().expect("a name");
        let scenario = &target["scenarios"][0];
        let summary = &scenario["summary"];
        let round = &scenario["rounds"][0];
        let database = number(
            &round["database_cpu_mean_percent"],
            "the round's database CPU",
        );
        assert!((0.0..=cap).contains(&database), "{name}: {database}");
        assert_eq!(
            summary["database_cpu_mean_percent"], round["database_cpu_mean_percent"],
            "{name}: one round, one figure"
        );
        let probes = scenario["capacity"]["probes"].as_array().expect("probes[]");
        assert!(!probes.is_empty(), "{name}: a capacity probe ran");
        for probe in probes {
            number(
                &probe["database_cpu_mean_percent"],
                "a probe's database CPU",
            );
        }
        let own = number(&summary["cpu_percent_per_1k_rps"], "per 1k");
        let with = number(
            &summary["cpu_percent_per_1k_rps_with_database"],
            "with database",
        );
        assert!(
            with >= own,
            "{name}: {with} with the database < {own} without"
        );
        let target_cpu = number(&summary["cpu_mean_percent"], "cpu_mean_percent");
        eprintln!(
            "{name}: target {target_cpu:.0}%, database {database:.0}%, per 1k req/s {own:.0}% \
             alone, {with:.0}% with the database"
        );
        shares.push((name.to_string(), target_cpu, database));
    }
    // Where the work happens: in PostgreSQL for `in-sql` (its Python only relays), in
    // Python for `in-app` (its database idles).
    let (_, app_own, app_database) = &shares[0];
    let (_, sql_own, sql_database) = &shares[1];
    assert!(
        sql_database > &(2.0 * sql_own),
        "in-sql: the database used {sql_database:.0}%, the target {sql_own:.0}%"
    );
    assert!(
        app_own > &(2.0 * app_database),
        "in-app: the target used {app_own:.0}%, the database {app_database:.0}%"
    );
    for row in ["database CPU mean", "CPU per 1k req/s with database"] {
        assert!(
            stdout.contains(row),
            "the matrix has no `{row}` row:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("CPU per request with the database"),
        "the verdict says which CPU per request it used:\n{stdout}"
    );
    let cost_notes = json["cost"]["notes"].to_string();
    assert!(
        cost_notes.contains("the targets' own processes"),
        "the cost says which CPU it priced: {cost_notes}"
    );
}

/// With `DATABASE_URL`, the server is not a process ferry started: its CPU is unknown, and
/// said so, never 0.
#[test]
fn an_external_databases_cpu_is_null_with_a_note() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the embedded PostgreSQL");
    let server = runtime
        .block_on(pg_embedded::EmbeddedPostgres::throwaway())
        .expect("the machine's PostgreSQL server binaries (scripts/setup.sh)");
    let dir = scratch("external");
    let lab = database_lab(&dir);
    let out = dir.join("out");
    let url = server.url("postgres");
    let output = ferry_compare(
        &lab,
        &out,
        &["--set", "scenario.count.capacity=false"],
        &[("DATABASE_URL", &url)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = read_json(&out.join("compare.json"));
    for target in json["targets"].as_array().expect("targets[]") {
        let scenario = &target["scenarios"][0];
        assert!(
            scenario["rounds"][0]["database_cpu_mean_percent"].is_null(),
            "{scenario}"
        );
        let summary = &scenario["summary"];
        assert!(summary["database_cpu_mean_percent"].is_null(), "{summary}");
        assert!(
            summary["cpu_percent_per_1k_rps_with_database"].is_null(),
            "{summary}"
        );
    }
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("database's CPU was not sampled") && notes.contains("external"),
        "{notes}"
    );
    assert!(
        stdout.contains("CPU per request of the target alone"),
        "the verdict says which CPU per request it used:\n{stdout}"
    );
    drop(server);
}
