//! The real peers of the TLS tests: a CA and certificates made by the openssl command, and
//! Debian's nginx serving HTTPS with them on a port of 127.0.0.1.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("ferry-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a scratch folder under the temp dir");
        Scratch(path)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs openssl with `args` in `dir`; panics with its output if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// In `dir`: a CA (`ca.pem`), a server certificate for 127.0.0.1 and localhost
/// (`server.pem`, `server.key`), a client certificate (`client.pem`, `client.key`), all signed
/// by the CA, and a second CA that signed nothing (`other-ca.pem`). P-256 keys: quick to make.
pub fn make_pki(dir: &Path) {
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, subject) in [("ca", "/CN=ferry test CA"), ("other-ca", "/CN=another CA")] {
        let key = format!("{name}.key");
        let pem = format!("{name}.pem");
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", subject];
        args.extend(new_key);
        args.extend(["-keyout", &key, "-out", &pem]);
        openssl(dir, &args);
    }
    let uses = [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ];
    for (name, extensions) in uses {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&ext), extensions).expect("writing an openssl extensions file");
        let mut args = vec!["req", "-subj", "/CN=ferry test"];
        args.extend(new_key);
        args.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &args);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }
}

/// The nginx binary: on PATH, or where Debian puts it.
pub fn nginx_binary() -> PathBuf {
    let on_path = Command::new("sh")
        .args(["-c", "command -v nginx"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let binary = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    assert!(
        binary.exists(),
        "nginx is missing (scripts/setup.sh installs Debian's)"
    );
    binary
}

/// A free port of 127.0.0.1 (free when asked; the tests take it at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding an ephemeral loopback port")
        .port()
}

/// An nginx serving `server` (the body of one `server {}` block, with `PORT` and `PKI` to
/// fill) on 127.0.0.1, in the foreground, one process; stopped when dropped.
pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    pub fn start(dir: &Path, pki: &Path, server: &str) -> Nginx {
        let port = free_port();
        let temp = dir.join(format!("nginx-{port}"));
        std::fs::create_dir_all(&temp).expect("creating nginx's scratch folder");
        let t = temp.display();
        let server = server
            .replace("PORT", &port.to_string())
            .replace("PKI", &pki.display().to_string());
        let config = format!(
            "daemon off; master_process off; worker_processes 1; pid {t}/nginx.pid;
             error_log {t}/error.log info;
             events {{ worker_connections 1024; }}
             http {{
               client_body_temp_path {t}; proxy_temp_path {t}; fastcgi_temp_path {t};
               uwsgi_temp_path {t}; scgi_temp_path {t};
               log_format reuse $ssl_session_reused;
               access_log {t}/access.log reuse;
               ssl_protocols TLSv1.2 TLSv1.3;
               ssl_session_cache shared:ferry:1m;
               server {{ {server} }}
             }}"
        );
        let file = temp.join("nginx.conf");
        std::fs::write(&file, config).expect("writing nginx's config");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&temp)
            .arg("-c")
            .arg(&file)
            .arg("-e")
            .arg(temp.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let nginx = Nginx {
            child,
            port,
            dir: temp,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port}: {}",
                std::fs::read_to_string(nginx.dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `$ssl_session_reused` of every request served so far: `r` resumed, `.` not.
    pub fn session_reuse(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
