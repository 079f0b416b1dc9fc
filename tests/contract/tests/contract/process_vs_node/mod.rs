//! `POST /api/v1/process`, Rust against the Node baseline: generated bodies (seeded;
//! valid and invalid records, number and string edge cases, duplicate keys, broken JSON)
//! go through `user_service::process::process_body` and through the Node baseline's own
//! route handler and body parser (`baselines/node/src/routes/process.js`,
//! `routes/body.js`, `process.js`), and the answers must match byte for byte.
//!
//! Needs Node.js 20+ on the PATH and `npm ci` run in `baselines/node` (the route imports
//! the baseline's packages): without them this test fails, naming what is missing and
//! the fix (`support::node`).

mod bodies;

use std::io::Write as _;
use std::process::{Command, Stdio};

use actix_web::ResponseError as _;

use user_service::process::process_body;

use crate::support;
use bodies::bodies;

/// Reads base64 bodies, one a line, and prints `<status> <body or error message>` for
/// each, through the baseline's parser and route handler.
const NODE_SCRIPT: &str = r#"
const root = process.argv[1];
const { registerProcessRoutes } = await import(root + '/src/routes/process.js');
const { parseJsonBody } = await import(root + '/src/routes/body.js');
let handler;
registerProcessRoutes({ post(path, options, h) { handler = h; } });
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const line of input.split('\n').slice(0, -1)) {
  const raw = Buffer.from(line, 'base64');
  let parsed, failure;
  parseJsonBody({ method: 'POST' }, raw, (error, value) => { failure = error; parsed = value; });
  if (failure) { out.push(`${failure.statusCode} ${failure.message}`); continue; }
  let sent;
  const reply = { header() { return this; }, send(body) { sent = body; return this; } };
  try {
    handler({ body: parsed }, reply);
    out.push(`200 ${sent}`);
  } catch (error) {
    out.push(`${error.statusCode} ${error.message}`);
  }
}
process.stdout.write(out.join('\n') + '\n');
"#;

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn rust_and_node_answer_alike() {
    let root = support::node::node_baseline().unwrap_or_else(|missing| panic!("{missing}"));
    let bodies = bodies();
    let mut input = String::new();
    for body in &bodies {
        input.push_str(&base64(body));
        input.push('\n');
    }
    let mut child = Command::new("node")
        .args(["--input-type=module", "-e", NODE_SCRIPT])
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`node` ran a moment ago (support::node::node_baseline)");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("node runs");
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let node = String::from_utf8(output.stdout).expect("node prints UTF-8");
    let node: Vec<&str> = node.trim_end_matches('\n').split('\n').collect();
    assert_eq!(node.len(), bodies.len(), "one answer per body");

    let mut statuses = std::collections::BTreeMap::new();
    for (index, (body, node)) in bodies.iter().zip(node).enumerate() {
        let rust = match process_body(body) {
            Ok(out) => format!("200 {}", String::from_utf8(out).unwrap()),
            // Through the route's own mapping to the contract's answer (`process::handler`).
            Err(error) => {
                let error = kit::ApiError::from(error);
                format!("{} {error}", error.status_code().as_u16())
            }
        };
        *statuses.entry(rust[..3].to_string()).or_insert(0) += 1;
        assert!(
            rust == node,
            "body #{index} differs\nbody: {}\nrust: {}\nnode: {}",
            String::from_utf8_lossy(&body[..body.len().min(2_000)]),
            &rust[..rust.len().min(3_000)],
            &node[..node.len().min(3_000)],
        );
    }
    eprintln!("{} bodies compared, by status: {statuses:?}", bodies.len());
    // The generator must reach every outcome.
    for status in ["200", "400", "413"] {
        assert!(
            statuses.get(status).copied().unwrap_or(0) > 0,
            "no {status}"
        );
    }
}
