//! Finding 8: a lab var holding a signing secret was written into `compare.json` and
//! `logs/setup.log`, and numeric vars came back as strings.

use std::path::Path;

use super::support::{compare, read_json, scratch, text};

const SECRET: &str = "s3cr3t-signing-key-8c1f";
const TOKEN: &str = "tok-1b2e4f0a9d";

/// Prints the secret it was given at start, and every Authorization header it receives,
/// as a careless service does.
const LEAKY_SERVER: &str = r##"
import http.server, os, sys
print("starting with JWT_SECRET=" + os.environ["JWT_SECRET"], flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        print("authorization: " + str(self.headers.get("Authorization")), file=sys.stderr, flush=True)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"##;

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn secret_values_appear_in_no_output_and_vars_keep_their_type() {
    let dir = scratch("secrets");
    std::fs::write(dir.join("server.py"), LEAKY_SERVER).unwrap();
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"secrets = ["secret", "token"]
name = "a service that logs its secrets"

[vars]
secret = "{SECRET}"
users = 1000
share = 0.25
fast = true

[[setup]]
name = "mint a token (and say so on stderr)"
run = ["sh", "-c", "echo 'minting with {{secret}}' >&2; echo {TOKEN}"]
output = "token"

[[target]]
name = "leaky"
role = "baseline"
start = ["python3", "{{dir}}/server.py", "{{port}}"]
env = {{ JWT_SECRET = "{{secret}}" }}

[[scenario]]
name = "read"
request = "GET /?key={{secret}}"
headers = {{ authorization = "Bearer {{token}}" }}
connections = 2
"#
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let output = compare(&lab, &out, &["--set", &format!("vars.secret={SECRET}")]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let log = std::fs::read_to_string(out.join("logs/leaky.log")).unwrap();
    assert!(
        log.contains("JWT_SECRET=***") && log.contains("authorization: Bearer ***"),
        "the target's output is kept, masked: {log}"
    );
    for secret in [SECRET, TOKEN] {
        assert_eq!(
            files_holding(&out, secret),
            Vec::<String>::new(),
            "{secret}"
        );
        assert!(
            !text(&output).contains(secret),
            "{secret} reached the terminal"
        );
    }
    let json = read_json(&out.join("compare.json"));
    assert_eq!(json["schema_version"], 3);
    let vars = &json["lab"]["vars"];
    assert_eq!(vars["users"], 1000, "{vars}");
    assert_eq!(vars["share"], 0.25, "{vars}");
    assert_eq!(vars["fast"], true, "{vars}");
    assert_eq!(vars["secret"], "***", "{vars}");
    assert!(
        json["command"]
            .as_str()
            .unwrap()
            .contains("vars.secret=***")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
