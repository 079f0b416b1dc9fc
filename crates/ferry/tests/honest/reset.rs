//! Same data for every run, and a database per target (issue 19, finding 3). Two small
//! Python services, each with its own database (`{database_url:a}`, `{database_url:b}`) and
//! its own schema of a table of the same name, list every row of it (a list whose cost grows
//! with the rows that writes add) and write down, for every list they serve, how many rows
//! they saw. A closed-model POST scenario adds rows before a read scenario lists them, both
//! with capacity probes: every list served, in measured runs and probes alike, must have seen
//! exactly the rows setup left. With `DATABASE_URL`, ferry resets only the databases it
//! created and drops none it did not. Also the lab check of the `{database_url:NAME}` form.

use std::path::Path;
use std::process::{Command, Output};

use ferry::compare::lab::{self, LabError, LoadOptions};
use pg_embedded::EmbeddedPostgres;

use super::support::{read_json, scratch, text};

/// One service for both targets: `service.py PORT SCHEMA SEEN_FILE`, with `DATABASE_URL`.
const SERVICE: &str = r##"
import http.server, os, subprocess, sys, threading
port, schema, seen_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
url = os.environ["DATABASE_URL"]
LIST = {"a": "SELECT id, label FROM items ORDER BY id",
        "b": "SELECT key, payload FROM items ORDER BY at, key"}[schema]
ADD = {"a": "INSERT INTO items (label) VALUES ('posted')",
       "b": "INSERT INTO items (key, payload) VALUES (gen_random_uuid(), jsonb_build_object('posted', true))"}[schema]
lock = threading.Lock()

def sql(statement):
    return subprocess.run(["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
                          capture_output=True, text=True, check=True).stdout

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/ready":
            return self.reply(200, b"ready\n")
        rows = sql(LIST)
        with lock, open(seen_file, "a") as seen:
            seen.write(f"{len(rows.splitlines())}\n")
        self.reply(200, rows.encode())
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        sql(ADD)
        self.reply(201, b"added\n")
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"##;

/// Rows setup leaves in each target's database.
const ROWS_A: usize = 100;
const ROWS_B: usize = 40;

const LAB: &str = r#"name = "rows added by writes, reset before every run"

[database]
kind = "embedded"

# The same table name with two schemas: were a and b one database, the second would fail.
[[setup]]
name = "schema and rows of a"
run = ["psql", "{database_url:a}", "-X", "-q", "-v", "ON_ERROR_STOP=1",
       "-c", "CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL)",
       "-c", "INSERT INTO items (label) SELECT 'row ' || g FROM generate_series(1, 100) g"]

[[setup]]
name = "schema and rows of b"
run = ["psql", "{database_url:b}", "-X", "-q", "-v", "ON_ERROR_STOP=1",
       "-c", "CREATE TABLE items (key uuid PRIMARY KEY, payload jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now())",
       "-c", "INSERT INTO items (key, payload) SELECT gen_random_uuid(), jsonb_build_object('n', g) FROM generate_series(1, 40) g"]

[[target]]
name = "a"
role = "baseline"
start = ["python3", "{dir}/service.py", "{port}", "a", "{out}/seen-a.txt"]
env = { DATABASE_URL = "{database_url:a}" }
ready = "/ready"

[[target]]
name = "b"
role = "candidate"
start = ["python3", "{dir}/service.py", "{port}", "b", "{out}/seen-b.txt"]
env = { DATABASE_URL = "{database_url:b}" }
ready = "/ready"

[[scenario]]
name = "add"
request = "POST /items"
body = '{"label":"x"}'
connections = 4
capacity = true

[[scenario]]
name = "list"
request = "GET /items"
connections = 4
capacity = true

[slo]
p99 = "5s"
"#;

/// The row counts a target wrote down, one per list it served.
fn seen(out: &Path, target: &str) -> Vec<usize> {
    let file = out.join(format!("seen-{target}.txt"));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("{}: {error}", file.display()))
        .lines()
        .map(|line| line.parse().expect("the service writes one count a line"))
        .collect()
}

/// `ferry compare` on `lab` (beside the service) with the issue's short settings, on the
/// server of `database_url` or an embedded one.
fn compare(dir: &Path, lab: &str, database_url: Option<&str>, extra: &[&str]) -> Output {
    std::fs::write(dir.join("service.py"), SERVICE).unwrap();
    std::fs::write(dir.join("lab.toml"), lab).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(["compare", "--lab"])
        .arg(dir.join("lab.toml"))
        .args([
            "--duration",
            "1s",
            "--warmup",
            "0.2s",
            "--rounds",
            "2",
            "--cold-starts",
            "1",
            "--capacity-probes",
            "2",
            "--no-pgbench",
            "--no-progress",
            "--out",
        ])
        .arg(dir.join("out"))
        .args(extra);
    match database_url {
        Some(url) => command.env("DATABASE_URL", url),
        None => command.env_remove("DATABASE_URL"),
    };
    command
        .output()
        .expect("running the ferry binary cargo built for this test")
}

#[test]
fn every_run_and_probe_reads_the_rows_setup_left_in_each_targets_own_database() {
    let dir = scratch("reset-rows");
    let out = dir.join("out");
    let output = compare(&dir, LAB, None, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let json = read_json(&out.join("compare.json"));
    assert_eq!(
        json["settings"]["database_reset"],
        "on",
        "{}",
        text(&output)
    );
    for (target, rows) in [("a", ROWS_A), ("b", ROWS_B)] {
        let report = json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == target)
            .unwrap();
        // The writes really happened, in the measured runs and in the probes.
        let add = report["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["scenario"] == "add")
            .unwrap();
        assert!(add["summary"]["responses"].as_u64().unwrap() > 0, "{add}");
        assert!(add["capacity"]["probes"].as_array().unwrap().len() == 2);
        let seen = seen(&out, target);
        eprintln!(
            "{target}: {} lists, rows seen {:?}..={:?}, setup left {rows}",
            seen.len(),
            seen.iter().min(),
            seen.iter().max()
        );
        assert!(!seen.is_empty(), "{target} served no list");
        let other: Vec<&usize> = seen.iter().filter(|count| **count != rows).collect();
        assert!(
            other.is_empty(),
            "{target}: {} of {} lists saw other than the {rows} rows setup left: {other:?}",
            other.len(),
            seen.len()
        );
    }
    let notes = json["notes"].to_string();
    assert!(notes.contains("Database reset on"), "{notes}");
    assert!(notes.contains("Database resets: "), "{notes}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lab error of `lab` (a [database] lab with one target and one scenario).
fn refused(test: &str, lab: &str) -> LabError {
    let dir = scratch(&format!("reset-{test}"));
    let path = dir.join("lab.toml");
    std::fs::write(&path, lab).unwrap();
    let error = lab::load(&path, &LoadOptions::default()).expect_err("the lab is refused");
    let found = error
        .downcast_ref::<LabError>()
        .unwrap_or_else(|| panic!("not a LabError: {error:#}"))
        .clone();
    assert_eq!(found.file, path, "{found}");
    let _ = std::fs::remove_dir_all(&dir);
    found
}

const SMALL: &str = r#"name = "small"

[database]
kind = "embedded"

[[target]]
name = "a"
role = "baseline"
start = ["python3", "{dir}/service.py", "{port}"]
env = { DATABASE_URL = "@URL@" }

[[scenario]]
name = "list"
request = "GET /items"
body = '{"a:b":1}'
"#;

#[test]
fn only_database_url_with_a_lower_case_name_of_ferrys_own_is_a_placeholder_with_an_argument() {
    for (url, problem) in [
        ("{database_url:Postgres}", "is not a database name"),
        ("{database_url:postgres}", "is not a database name"),
        ("{database_url:template1}", "is not a database name"),
        ("{database_url:ferry_pgbench}", "is not a database name"),
        ("{database_url:1a}", "is not a database name"),
        ("{a:b}", "is not a placeholder"),
    ] {
        let error = refused("name", &SMALL.replace("@URL@", url));
        assert_eq!(
            (error.line, error.key.as_str()),
            (10, "target.a.env.DATABASE_URL"),
            "{url}: {error}"
        );
        assert!(error.message.contains(problem), "{url}: {error}");
    }
    // Without a [database], there is no server to make a database on.
    let error = refused(
        "no-database",
        &SMALL
            .replace("@URL@", "{database_url:a}")
            .replace("[database]\nkind = \"embedded\"\n", ""),
    );
    assert!(error.message.contains("[database]"), "{error}");
    let error = refused(
        "reset",
        &SMALL.replace(
            "kind = \"embedded\"",
            "kind = \"embedded\"\nreset = \"sometimes\"",
        ),
    );
    assert_eq!(error.key, "database.reset", "{error}");

    // The good form is read, with the database it names; JSON such as {"a:b":1} stays text.
    let dir = scratch("reset-good");
    let path = dir.join("lab.toml");
    std::fs::write(&path, SMALL.replace("@URL@", "{database_url:users_1}")).unwrap();
    let lab = lab::load(&path, &LoadOptions::default()).expect("the lab is read");
    assert_eq!(lab.databases, ["users_1"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `psql URL -c SQL`, its unaligned output.
fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql is installed (scripts/setup.sh)");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn with_database_url_only_the_databases_ferry_created_are_reset_or_dropped() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(EmbeddedPostgres::throwaway())
        .expect("a PostgreSQL of the test's own, standing in for a DATABASE_URL server");
    let url = server.url("postgres");
    // Target a on the server's shared database, b on a database of its own; no capacity.
    let lab = LAB
        .replace("{database_url:a}", "{database_url}")
        .replace("capacity = true", "capacity = false");
    let dir = scratch("reset-external");

    // A database `b` that someone else made is neither used nor dropped.
    psql(&url, "CREATE DATABASE b");
    psql(
        &pg_embedded::with_database(&url, "b"),
        "CREATE TABLE theirs (x int)",
    );
    let output = compare(&dir, &lab, Some(&url), &[]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("ferry did not create it"),
        "{}",
        text(&output)
    );
    assert_eq!(
        psql(
            &pg_embedded::with_database(&url, "b"),
            "SELECT count(*) FROM theirs"
        ),
        "0"
    );
    psql(&url, "DROP DATABASE b");

    let output = compare(&dir, &lab, Some(&url), &[]);
    assert!(output.status.success(), "{}", text(&output));
    let out = dir.join("out");
    let json = read_json(&out.join("compare.json"));
    assert_eq!(
        json["settings"]["database_reset"],
        "on",
        "{}",
        text(&output)
    );
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("is not ferry's, so it is never reset"),
        "{notes}"
    );
    // b's own database was reset before every run; the shared one kept what a's writes added.
    assert!(
        seen(&out, "b").iter().all(|rows| *rows == ROWS_B),
        "{:?}",
        seen(&out, "b")
    );
    assert!(
        seen(&out, "a").iter().any(|rows| *rows > ROWS_A),
        "{:?}",
        seen(&out, "a")
    );
    // What ferry made stays marked as its own; its snapshots are gone.
    assert_eq!(
        psql(
            &url,
            "SELECT string_agg(datname || '=' || coalesce(shobj_description(oid, 'pg_database'), ''), ',' \
             ORDER BY datname) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')"
        ),
        format!("b={}", ferry::compare::database::MARK)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
