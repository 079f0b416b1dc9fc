//! A real Prometheus (Debian's `prometheus` package) for the tests: a generated config with a
//! 1 s scrape interval, a throwaway data directory, a free loopback port; killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    pub url: String,
    pub dir: PathBuf,
}

/// TLS and basic auth in front of the API (Prometheus's `--web.config.file`).
pub struct Secured {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    pub user: String,
    pub password: String,
}

impl Prometheus {
    /// Starts Prometheus scraping `jobs` (`(job name, host:port)`) every second, and waits
    /// until it is ready.
    pub fn start(jobs: &[(&str, String)]) -> Prometheus {
        let dir = scratch();
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n",
        );
        for (job, address) in jobs {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{address}']\n"
            ));
        }
        Prometheus::launch(dir, &config, None, jobs.len())
    }

    /// Starts Prometheus behind TLS and basic auth, scraping itself (through the same TLS
    /// and credentials) every second.
    pub fn start_secured(secured: &Secured) -> Prometheus {
        let dir = scratch();
        let hash = bcrypt::hash(&secured.password, 4).expect("bcrypt hashes a password");
        let web = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {}: {hash}\n",
            secured.cert_pem.display(),
            secured.key_pem.display(),
            secured.user
        );
        std::fs::write(dir.join("web.yml"), web).expect("writing the web config");
        // The port is only known at launch: the self-scrape target is filled in there.
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: prometheus\n    scheme: https\n    tls_config:\n      insecure_skip_verify: true\n    basic_auth:\n      username: {}\n      password: {}\n    static_configs:\n      - targets: ['SELF']\n",
            secured.user, secured.password
        );
        Prometheus::launch(dir, &config, Some(secured), 1)
    }

    /// Starts it and returns once every one of `jobs` targets has been scraped: Prometheus
    /// only starts scraping some seconds after it is ready (its discovery updates are
    /// throttled to one per 5 s).
    fn launch(dir: PathBuf, config: &str, secured: Option<&Secured>, jobs: usize) -> Prometheus {
        let port = pg_embedded::free_port().expect("the loopback interface has free ports");
        let config = config.replace("SELF", &format!("127.0.0.1:{port}"));
        std::fs::write(dir.join("prometheus.yml"), config).expect("writing the config");
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("creating the log");
        let mut command = Command::new("prometheus");
        command
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if secured.is_some() {
            command.arg(format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            ));
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sharing the log"))
            .stderr(log)
            .spawn()
            .expect(
                "starting prometheus (Debian package `prometheus`; scripts/setup.sh installs it)",
            );
        let scheme = if secured.is_some() { "https" } else { "http" };
        let mut prometheus = Prometheus {
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
            dir,
        };
        // Readiness only: the certificate is the one the test just made.
        let client = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("building the client that waits for the first scrapes");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut request = client
                .get(format!("{}/api/v1/query", prometheus.url))
                .query(&[("query", "count(up == 1)")]);
            if let Some(secured) = secured {
                request = request.basic_auth(&secured.user, Some(&secured.password));
            }
            let scraped = request
                .send()
                .and_then(|response| response.json::<serde_json::Value>())
                .ok()
                .and_then(|json| {
                    json["data"]["result"][0]["value"][1]
                        .as_str()?
                        .parse::<usize>()
                        .ok()
                });
            if scraped == Some(jobs) {
                return prometheus;
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", prometheus.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not scrape every target:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

/// A fresh directory for one Prometheus, with its data directory.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferry-prometheus-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::create_dir_all(dir.join("data")).expect("the temp directory is writable");
    dir
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
