//! The Node baseline (`baselines/node`): what it needs on this machine, checked with the
//! fix named when it is missing, and the baseline started as a real process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use contract_suite::Target;
use kit::db::testing::fresh_database;
use pg_embedded::{Readiness, http_status, tail, wait_ready};
use user_service::store::MIGRATOR;

use super::JWT_SECRET;

/// The oldest Node.js the baseline runs on (`baselines/node/package.json`, `engines`).
const NODE_MAJOR: u32 = 20;

/// How to get what is missing, appended to every "missing" message.
const FIX: &str = "install Node.js 20+ (`apt-get install -y nodejs npm`) and run `npm ci` \
                   in baselines/node; `scripts/setup.sh` does both";

/// The baseline's directory, once `node` (20+) runs from the PATH and the baseline's
/// packages are installed; otherwise what is missing and how to fix it. The tests that
/// need Node fail with this message rather than skip: a skipped comparison would pass
/// without having compared anything.
pub fn node_baseline() -> Result<PathBuf, String> {
    let output = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("`node` does not run from the PATH ({error}): {FIX}"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let major = version
        .strip_prefix('v')
        .and_then(|rest| rest.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if output.status.success() && major >= NODE_MAJOR => {}
        _ => {
            return Err(format!(
                "`node --version` says {version:?}, not v{NODE_MAJOR}+: {FIX}"
            ));
        }
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../baselines/node")
        .canonicalize()
        .map_err(|error| format!("baselines/node is not in this checkout: {error}"))?;
    if !dir.join("node_modules").is_dir() {
        return Err(format!(
            "the Node baseline has no node_modules ({}): {FIX}",
            dir.display()
        ));
    }
    Ok(dir)
}

/// The Node baseline, started once as `node src/main.js` (2 cluster workers).
pub async fn node_target() -> &'static Target {
    static TARGET: OnceLock<Result<Target, String>> = OnceLock::new();
    let started = TARGET.get_or_init(|| {
        std::thread::spawn(start_node)
            .join()
            .unwrap_or_else(|_| Err("starting the Node baseline panicked".into()))
    });
    match started {
        Ok(target) => target,
        Err(error) => panic!("{error}"),
    }
}

fn start_node() -> Result<Target, String> {
    let dir = node_baseline()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let url = runtime.block_on(fresh_database(&MIGRATOR));
    drop(runtime);
    let port = pg_embedded::free_port().map_err(|error| error.to_string())?;
    let log_path =
        std::env::temp_dir().join(format!("contract-node-{}-{port}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).map_err(|error| error.to_string())?;
    let log_err = log.try_clone().map_err(|error| error.to_string())?;
    let mut command = Command::new("node");
    command
        .arg(dir.join("src/main.js"))
        .current_dir(&dir)
        .env("DATABASE_URL", &url)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("JWT_SECRET", JWT_SECRET)
        .env("WORKERS", "2")
        .env("DB_POOL_SIZE", "10")
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SIGTERM lets the primary stop its workers when this test process goes away.
    let mut child = pg_embedded::spawn_tied(command, nix::sys::signal::Signal::SIGTERM)
        .map_err(|error| format!("starting `node`: {error}: {FIX}"))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let readiness = wait_ready(
        Some(&mut child),
        Instant::now(),
        Duration::from_secs(30),
        Duration::from_millis(100),
        || http_status(address, "/health/ready") == Some(200),
    )
    .map_err(|error| format!("waiting for the Node baseline: {error}"))?;
    let failure = match readiness {
        Readiness::Ready(_) => None,
        Readiness::Exited(status) => Some(format!("exited at start ({status})")),
        Readiness::TimedOut => Some("was not ready within 30 s".to_string()),
    };
    if let Some(failure) = failure {
        return Err(format!(
            "the Node baseline {failure}; the end of its log ({}):\n{}",
            log_path.display(),
            tail(&log_path, 40)
        ));
    }
    static CHILD: Mutex<Option<Child>> = Mutex::new(None);
    *CHILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(child);
    Ok(Target {
        name: "node".into(),
        base_url: format!("http://127.0.0.1:{port}"),
        jwt_secret: JWT_SECRET.into(),
    })
}
