//! Issue 20, credentials per target: two services that each accept only the tokens they
//! issued themselves (each has its own secret), so that no one token can serve both. Their
//! `[[target.after_start]]` steps log in through each one's own API; `{token}` in the
//! scenario then means each target's own, and a `[target.headers]` reaches its target only.

use std::path::{Path, PathBuf};

use super::support::{compare, read_json, scratch, text};

/// `python3 service.py PORT SECRET LOG`: `POST /login` issues a token `SECRET-<random>`
/// under the `Token` scheme; `GET /ready` answers 200; every other route answers 401 unless
/// `Authorization: Token <a token it issued>`. Every request's Authorization and
/// X-Lab-Target headers are written to LOG, one line each, before it answers.
const TOKEN_SERVICE: &str = r##"
import http.server, sys, threading, uuid
secret, log = sys.argv[2], sys.argv[3]
issued, lock = set(), threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        with lock, open(log, "a") as seen:
            seen.write("%s auth=%s target=%s\n" % (self.path, auth, self.headers.get("X-Lab-Target")))
        if self.path == "/ready":
            return self.reply(200)
        if self.command == "POST" and self.path == "/login":
            token = secret + "-" + uuid.uuid4().hex
            with lock:
                issued.add(token)
            return self.reply(200, token.encode() + b"\n")
        scheme, _, token = (auth or "").partition(" ")
        with lock:
            ok = scheme == "Token" and token in issued
        self.reply(200 if ok else 401, b"ok\n" if ok else b"")
    do_GET = do_POST = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"##;

const SECRET_A: &str = "alpha7f3";
const SECRET_B: &str = "bravo91c";

/// A login through `{url}` for `a`, through `{port}` for `b`, as a `python3 -c` one-liner
/// that prints the token.
fn login(base: &str) -> String {
    format!(
        r#"["python3", "-c", "import sys, urllib.request as u; print(u.urlopen(u.Request(sys.argv[1] + '/login', method='POST')).read().decode().strip())", "{base}"]"#
    )
}

/// The lab: targets `a` and `b` with their own secrets; `b_output` is the name `b`'s login
/// gives its token (`token` for both to provide it).
fn lab(dir: &Path, b_output: &str) -> PathBuf {
    std::fs::write(dir.join("service.py"), TOKEN_SERVICE).unwrap();
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"secrets = ["token"]
name = "a token per service"

[[target]]
name = "a"
role = "baseline"
start = ["python3", "{{dir}}/service.py", "{{port}}", "{SECRET_A}", "{{dir}}/a.log"]
ready = "/ready"

[[target.after_start]]
name = "login"
run = {login_a}
output = "token"

[[target]]
name = "b"
role = "candidate"
start = ["python3", "{{dir}}/service.py", "{{port}}", "{SECRET_B}", "{{dir}}/b.log"]
ready = "/ready"

[target.headers]
X-Lab-Target = "b"

[[target.after_start]]
name = "login"
run = {login_b}
output = "{b_output}"

[[scenario]]
name = "read"
request = "GET /things"
headers = {{ authorization = "Token {{token}}", x-lab-target = "scenario" }}
connections = 2
"#,
            login_a = login("{url}"),
            login_b = login("http://127.0.0.1:{port}"),
        ),
    )
    .unwrap();
    lab
}

/// The `(auth, target)` pairs a service logged for `GET /things`.
fn seen(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_else(|error| panic!("reading {}: {error}", log.display()))
        .lines()
        .filter_map(|line| line.strip_prefix("/things auth="))
        .map(|rest| {
            let (auth, target) = rest.split_once(" target=").expect("the log's line format");
            (auth.to_string(), target.to_string())
        })
        .collect()
}

#[test]
fn each_target_is_sent_only_its_own_token_and_its_own_headers() {
    let dir = scratch("credentials");
    let out = dir.join("out");
    let output = compare(&lab(&dir, "token"), &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json = read_json(&out.join("compare.json"));
    for target in 0..2 {
        let scenario = &json["targets"][target]["scenarios"][0];
        assert_eq!(scenario["valid"], true, "{scenario}");
        let totals = &scenario["rounds"][0]["result"]["totals"];
        assert!(totals["responses"].as_u64().unwrap() > 0, "{totals}");
        assert_eq!(totals["error_ratio"], 0.0, "{totals}");
    }

    let a = seen(&dir.join("a.log"));
    let b = seen(&dir.join("b.log"));
    assert!(!a.is_empty() && !b.is_empty(), "both targets were measured");
    for (auth, target) in &a {
        assert!(
            auth.starts_with(&format!("Token {SECRET_A}-")),
            "a saw {auth}"
        );
        assert_eq!(
            target, "scenario",
            "a's requests keep the scenario's header"
        );
    }
    for (auth, target) in &b {
        assert!(
            auth.starts_with(&format!("Token {SECRET_B}-")),
            "b saw {auth}"
        );
        assert_eq!(target, "b", "b's own header wins over the scenario's");
    }

    // `secrets` covers the outputs: no token reaches what ferry wrote.
    let token = a[0].0.trim_start_matches("Token ");
    let compare_json = std::fs::read_to_string(out.join("compare.json")).unwrap();
    assert!(!compare_json.contains(token), "a's token is masked");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_scenario_placeholder_only_some_targets_provide_is_refused_at_the_plan() {
    let dir = scratch("credentials-partial");
    let out = dir.join("out");
    let output = compare(&lab(&dir, "session"), &out, &["--plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("scenario.read.headers.authorization")
            && stderr.contains("placeholder `{token}` is an after_start output of some targets")
            && stderr.contains("a provide it, b not"),
        "{stderr}"
    );
    assert!(!dir.join("a.log").exists(), "nothing started");
    let _ = std::fs::remove_dir_all(&dir);
}
