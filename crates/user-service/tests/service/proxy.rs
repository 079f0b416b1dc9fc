//! A TCP proxy in front of PostgreSQL that can stop forwarding: the blackholed
//! database of the fault tests. While blackholed it reads nothing and writes nothing,
//! and it neither closes nor resets a connection, so the service sees what a network
//! that drops packets shows it: silence. New connections are accepted and held the
//! same way. When forwarding resumes, the held bytes flow on.

use std::str::FromStr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::watch;
use tokio_postgres::config::Host;

/// Where the real server is.
#[derive(Clone)]
enum Upstream {
    Tcp(String, u16),
    Unix(std::path::PathBuf),
}

pub struct BlackholeProxy {
    blackholed: watch::Sender<bool>,
    /// `database_url` with its host and port replaced by the proxy's.
    pub url: String,
    _accepting: tokio::task::JoinHandle<()>,
}

impl BlackholeProxy {
    /// A proxy to the server of `database_url`, forwarding until [`Self::blackhole`];
    /// `user` replaces the URL's user when given.
    pub async fn start(database_url: &str, user: Option<&str>) -> BlackholeProxy {
        let config = tokio_postgres::Config::from_str(database_url).expect("a PostgreSQL URL");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = match config.get_hosts().first().expect("the URL names a host") {
            Host::Tcp(host) => Upstream::Tcp(host.clone(), port),
            Host::Unix(dir) => Upstream::Unix(dir.join(format!(".s.PGSQL.{port}"))),
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let user = user
            .map(str::to_owned)
            .or_else(|| config.get_user().map(str::to_owned))
            .unwrap_or_else(|| "postgres".into());
        let database = config.get_dbname().unwrap_or("postgres");
        let url = format!("postgres://{user}@{address}/{database}");
        let (blackholed, watching) = watch::channel(false);
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, watching) = (upstream.clone(), watching.clone());
                tokio::spawn(async move {
                    let _ = relay(client, upstream, watching).await;
                });
            }
        });
        BlackholeProxy {
            blackholed,
            url,
            _accepting: accepting,
        }
    }

    /// Stops (true) or resumes (false) forwarding on every connection.
    pub fn blackhole(&self, on: bool) {
        self.blackholed.send_replace(on);
    }
}

async fn relay(
    client: TcpStream,
    upstream: Upstream,
    watching: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let (client_read, client_write) = client.into_split();
    match upstream {
        Upstream::Tcp(host, port) => {
            let (server_read, server_write) = TcpStream::connect((host.as_str(), port))
                .await?
                .into_split();
            pump_both(
                client_read,
                client_write,
                server_read,
                server_write,
                watching,
            )
            .await
        }
        Upstream::Unix(path) => {
            let (server_read, server_write) = UnixStream::connect(path).await?.into_split();
            pump_both(
                client_read,
                client_write,
                server_read,
                server_write,
                watching,
            )
            .await
        }
    }
}

async fn pump_both(
    client_read: impl AsyncRead + Unpin,
    client_write: impl AsyncWrite + Unpin,
    server_read: impl AsyncRead + Unpin,
    server_write: impl AsyncWrite + Unpin,
    watching: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tokio::select! {
        result = pump(client_read, server_write, watching.clone()) => result,
        result = pump(server_read, client_write, watching) => result,
    }
}

/// Copies `from` to `to` while not blackholed; while blackholed, holds what it read.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut blackholed: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let _ = blackholed.wait_for(|on| !*on).await;
        let read = tokio::select! {
            read = from.read(&mut buffer) => read?,
            // Blackholed while waiting to read: stop reading.
            _ = blackholed.wait_for(|on| *on) => continue,
        };
        if read == 0 {
            return Ok(());
        }
        let _ = blackholed.wait_for(|on| !*on).await;
        to.write_all(&buffer[..read]).await?;
    }
}
