//! Graceful shutdown, as every service on the kit gets it, shown once here: an app built by
//! `kit::App` runs as a real process (this test binary runs itself as the service), gets a
//! real SIGTERM while a request is in flight, answers readiness 503 during the grace
//! period, finishes the request and exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use kit::app::Running;
use kit::config::{
    ConfigError, DatabaseSettings, Environment, LogSettings, ServerSettings, Validate,
};
use serde::{Deserialize, Serialize};

use crate::support::MIGRATOR;

/// Set (to the database URL) in the child process only.
const CHILD_DATABASE: &str = "KIT_DRAIN_TEST_DATABASE_URL";
const PORT_LINE: &str = "KIT_DRAIN_TEST_PORT=";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    server: ServerSettings,
    database: DatabaseSettings,
    log: LogSettings,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()
    }
}

kit::service_settings!(Settings, without auth);

/// A request that is still in flight when the signal comes.
async fn slow() -> HttpResponse {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    HttpResponse::Ok().body("finished")
}

async fn build(settings: &Settings, environment: Environment) -> anyhow::Result<Running> {
    Ok(kit::App::new(settings, environment)
        .serve(|config| {
            config.route("/slow", web::get().to(slow));
        })
        .await?)
}

/// The service side: runs only as the child of the test below, which passes `--ignored`.
#[tokio::test]
#[ignore = "the child process of sigterm_drains_in_flight_requests_and_exits_zero"]
async fn serve_until_sigterm_as_the_child() {
    let url = std::env::var(CHILD_DATABASE).expect("started by the drain test, with a database");
    let mut settings: Settings = kit::testing::test_settings(&url);
    settings.server.drain_grace_ms = 1000;
    settings.server.drain_timeout_secs = 20;
    let running = build(&settings, Environment::Test)
        .await
        .expect("the app builds");
    println!("{PORT_LINE}{}", running.port());
    running
        .run_until_stopped()
        .await
        .expect("the drain ends cleanly");
}

fn start_child(database_url: &str) -> (Child, u16) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "drain::serve_until_sigterm_as_the_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DATABASE, database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the test binary as the service");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix(PORT_LINE) {
                let _ = port_tx.send(port.parse::<u16>());
            }
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child reports its port within 60 s")
        .expect("the port line holds a port");
    (child, port)
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let database_url = kit::testing::fresh_database(&MIGRATOR).await;
    let (mut child, port) = start_child(&database_url);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .expect("the child answers");
    assert_eq!(ready.status(), 200, "ready before the signal");

    let in_flight = tokio::spawn(client.get(format!("{base}/slow")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(killed.success(), "kill -TERM reached the child");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let draining = reqwest::Client::new()
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .expect("a new connection is still accepted during the grace period");
    assert_eq!(draining.status(), 503, "readiness while draining");

    let finished = in_flight
        .await
        .expect("the request task")
        .expect("the in-flight request is answered, not cut");
    assert_eq!(finished.status(), 200);
    assert_eq!(finished.text().await.expect("its body"), "finished");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the child exits within 20 s of the signal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after the drain: {status}");
}
