//! The two services `ferry candidates` ranks (the Rust user-service and the Node baseline)
//! on one seeded embedded PostgreSQL, and the phases of load ferry's library sends them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::compare::database::Database;
use ferry::compare::targets::Running;
use ferry::load::{LoadSettings, Model, RateSchedule, RunResult, Target};
use hdrhistogram::Histogram;

use super::procfs::tree_cpu_seconds;
use crate::support::workspace::{launch, repo, tool, user_service};

const PHASE: Duration = Duration::from_secs(8);
/// Records per `/api/v1/process` batch: a few milliseconds of CPU in either service.
const BATCH_RECORDS: usize = 3000;

/// What both services get, as the default lab gives it: one database, one secret, a pool of
/// ten and two workers, warnings only; `{port}` is filled at each start.
fn service_env(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        (
            "JWT_SECRET",
            "candidates-test-secret-of-at-least-32-bytes".to_string(),
        ),
        ("DB_POOL_SIZE", "10".to_string()),
        ("WORKERS", "2".to_string()),
        ("PORT", "{port}".to_string()),
        (
            "APP_CONFIG_DIR",
            repo()
                .join("crates/user-service/config")
                .display()
                .to_string(),
        ),
        // Request logging is not what is measured.
        ("APP_LOG__FILTER", "warn".to_string()),
        ("APP_LOG__FORMAT", "json".to_string()),
        ("LOG_LEVEL", "warn".to_string()),
        ("NODE_ENV", "production".to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// A valid batch: every record passes validation, so the work is all computing.
fn batch(records: usize) -> String {
    let currencies = ["EUR", "USD", "GBP", "JPY"];
    let items: Vec<String> = (0..records)
        .map(|i| {
            format!(
                r#"{{"user_id":"{:08x}-0000-4000-8000-{:012x}","amount_cents":{},"currency":"{}","tags":["t{}","x"],"ts":"2024-03-{:02}T10:00:00Z"}}"#,
                i,
                i * 7919,
                (i * 104_729) % 1_000_000,
                currencies[i % 4],
                i % 5,
                1 + i % 28
            )
        })
        .collect();
    format!(r#"{{"records":[{}]}}"#, items.join(","))
}

/// One open-model stream of `target` at `rate` for the phase.
fn stream(target: Target, rate: f64) -> LoadSettings {
    let mut settings = LoadSettings::closed(&target.url, 8, PHASE);
    settings.targets = vec![target];
    settings.model = Model::Open {
        schedule: RateSchedule::parse(&format!("{rate}/s")).expect("a constant rate parses"),
        max_backlog: None,
    };
    settings.threads = 1;
    settings.progress = false;
    settings.seed = fastrand::u64(..);
    settings
}

pub(super) struct Service {
    pub(super) running: Running,
    process: Target,
    users: Target,
    /// ferry's service-time histogram of every `/api/v1/process` request.
    pub(super) process_latency: Histogram<u64>,
    /// CPU seconds per `/api/v1/process` request from /proc, in the process-only phase.
    pub(super) proc_cpu_per_process: f64,
    idle_cores: f64,
}

/// The scratch folder, the migrated and seeded database, and what the services need of it.
pub(super) struct Seeded {
    pub(super) work: PathBuf,
    pub(super) database: Database,
    pub(super) ids_file: PathBuf,
    rust_bin: PathBuf,
    env: Vec<(String, String)>,
    token: String,
    ids: Arc<Vec<String>>,
}

impl Seeded {
    pub(super) fn prepare() -> Seeded {
        // The dev build: `cargo test --workspace` has built it already, and what is measured
        // here is ferry's reading of the service, not the service's speed.
        let rust_bin = user_service(false);
        let work = std::env::temp_dir().join(format!("ferry-candidates-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();

        let database = Database::start(None).expect("the embedded PostgreSQL starts");
        let env = service_env(&database.url);
        tool(&rust_bin, &env, &["migrate"]);
        let ids_file = work.join("ids.txt");
        tool(
            &rust_bin,
            &env,
            &[
                "seed",
                "--users",
                "1000",
                "--ids-file",
                ids_file.to_str().unwrap(),
            ],
        );
        let token = tool(
            &rust_bin,
            &env,
            &["token", "--scope", "users:read", "--ttl", "1h"],
        )
        .trim()
        .to_string();
        let ids = ferry::load::target::read_values(&ids_file).unwrap();
        Seeded {
            work,
            database,
            ids_file,
            rust_bin,
            env,
            token,
            ids,
        }
    }
}

/// Both services started and ready, each with its two targets.
pub(super) fn start(seeded: &Seeded, node_dir: &Path) -> BTreeMap<&'static str, Service> {
    let body = batch(BATCH_RECORDS);
    let mut services: BTreeMap<&str, Service> = BTreeMap::new();
    let rust_argv = [
        seeded.rust_bin.to_str().expect("a UTF-8 target path"),
        "serve",
    ];
    for (name, spec) in [
        ("rust", launch("rust", &rust_argv, &repo(), &seeded.env)),
        (
            "node",
            launch("node", &["node", "src/main.js"], node_dir, &seeded.env),
        ),
    ] {
        let mut running = spec
            .spawn(&seeded.work.join(format!("{name}.log")))
            .unwrap();
        running.wait_ready().unwrap();
        let base = running.base_url();
        let mut process = Target::get(&format!("{base}/api/v1/process"));
        process.method = "POST".into();
        process.body = Some(body.clone());
        process.headers = vec![("content-type".into(), "application/json".into())];
        let mut users = Target::get(&format!("{base}/users/{{id}}"));
        users.headers = vec![("authorization".into(), format!("Bearer {}", seeded.token))];
        users.values.insert("id".into(), Arc::clone(&seeded.ids));
        services.insert(
            name,
            Service {
                running,
                process,
                users,
                process_latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
                proc_cpu_per_process: 0.0,
                idle_cores: 0.0,
            },
        );
    }
    services
}

/// Prometheus's scrape jobs: one per service.
pub(super) fn jobs(services: &BTreeMap<&'static str, Service>) -> Vec<(&'static str, String)> {
    services
        .iter()
        .map(|(name, s)| (*name, format!("127.0.0.1:{}", s.running.port)))
        .collect()
}

/// Idle: the baseline CPU /proc sees with only the scrapes.
pub(super) fn measure_idle(services: &mut BTreeMap<&'static str, Service>) {
    let idle = Duration::from_secs(5);
    let before: BTreeMap<&str, f64> = services
        .iter()
        .map(|(n, s)| (*n, tree_cpu_seconds(s.running.pid())))
        .collect();
    std::thread::sleep(idle);
    for (name, service) in services.iter_mut() {
        service.idle_cores =
            (tree_cpu_seconds(service.running.pid()) - before[name]) / idle.as_secs_f64();
    }
}

/// Phases of different mixes (requests per second of process, users) so that the
/// regression can tell the routes apart.
pub(super) fn run_phases(services: &mut BTreeMap<&'static str, Service>) {
    let phases = [(20.0, 0.0), (0.0, 150.0), (10.0, 150.0), (20.0, 75.0)];
    for (index, (process_rate, users_rate)) in phases.into_iter().enumerate() {
        let cpu_before: BTreeMap<&str, f64> = services
            .iter()
            .map(|(n, s)| (*n, tree_cpu_seconds(s.running.pid())))
            .collect();
        let phase_started = Instant::now();
        let results = run_phase(services, process_rate, users_rate);
        let elapsed = phase_started.elapsed().as_secs_f64();
        for (name, is_process, result) in results {
            assert_eq!(
                result.totals.error_count, 0,
                "{name} phase {index}: {:?}",
                result.totals.errors
            );
            let service = services.get_mut(name).unwrap();
            if is_process {
                service
                    .process_latency
                    .add(result.histograms.service().unwrap())
                    .unwrap();
                if index == 0 {
                    let cpu = tree_cpu_seconds(service.running.pid()) - cpu_before[name];
                    service.proc_cpu_per_process =
                        (cpu - service.idle_cores * elapsed) / result.totals.responses as f64;
                }
            }
        }
    }
}

/// One phase: a stream per route with a rate, to both services at once; each result with
/// its service and whether it was `/api/v1/process`.
fn run_phase(
    services: &BTreeMap<&'static str, Service>,
    process_rate: f64,
    users_rate: f64,
) -> Vec<(&'static str, bool, RunResult)> {
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (name, service) in services {
            if process_rate > 0.0 {
                let settings = stream(service.process.clone(), process_rate);
                handles.push((
                    *name,
                    true,
                    scope.spawn(move || ferry::load::run(&settings)),
                ));
            }
            if users_rate > 0.0 {
                let settings = stream(service.users.clone(), users_rate);
                handles.push((
                    *name,
                    false,
                    scope.spawn(move || ferry::load::run(&settings)),
                ));
            }
        }
        handles
            .into_iter()
            .map(|(name, is_process, handle)| (name, is_process, handle.join().unwrap().unwrap()))
            .collect::<Vec<_>>()
    })
}
