//! The shadow proxy: clients get the primary's response, unchanged, as soon as it has it.
//! Each request is then queued for mirroring to the secondary and the candidate; the queue is
//! bounded, and when it is full the mirror is dropped and counted — the client's request
//! never is. Writes go to the primary only, as the client's own request, unless
//! `--allow-writes`. The report is written every `--report-every` and on SIGINT/SIGTERM.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONNECTION, HOST, HeaderName, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, mpsc};

use super::client::ShadowClient;
use super::report::{ReportContext, RequestCounts, ShadowReport};
use super::request::ShadowRequest;
use super::response::{Captured, CapturedBody};
use super::routes::RouteTemplates;
use super::tally::{Outcomes, ShadowTally};
use super::{ShadowSettings, ShadowTargets};

/// How long the targets have to accept a connection before the proxy starts.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers about one connection, not forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub shadow: ShadowSettings,
    pub listen: SocketAddr,
    /// The share of requests mirrored, 0 to 1.
    pub sample: f64,
    pub report_every: Duration,
    /// Mirrors waiting at most; more are dropped.
    pub queue: usize,
}

/// What the proxy counts outside the tally.
#[derive(Default)]
struct Counters {
    received: AtomicU64,
    mirrored: AtomicU64,
    skipped_writes: AtomicU64,
    sampled_out: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            read: self.received.load(Ordering::Relaxed),
            sent: self.mirrored.load(Ordering::Relaxed),
            compared: 0,
            skipped_writes: self.skipped_writes.load(Ordering::Relaxed),
            sampled_out: self.sampled_out.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// A request and the primary's answer, waiting to be mirrored.
struct Mirror {
    request: ShadowRequest,
    primary: Captured,
}

/// Shared by every connection.
struct Proxy {
    client: ShadowClient,
    targets: ShadowTargets,
    templates: RouteTemplates,
    allow_writes: bool,
    sample: f64,
    queue: mpsc::Sender<Mirror>,
    counters: Counters,
    tally: Mutex<ShadowTally>,
}

/// Runs the proxy until SIGINT or SIGTERM and returns the final report. `on_listening` gets
/// the bound address (useful with port 0).
pub fn run_proxy(
    settings: ProxySettings,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<ShadowReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the proxy's runtime")?;
    runtime.block_on(serve_clients(settings, on_listening))
}

async fn serve_clients(
    settings: ProxySettings,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<ShadowReport> {
    let shadow = &settings.shadow;
    let client = shadow.connect(REACHABLE_TIMEOUT).await?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let (queue, receiver) = mpsc::channel(settings.queue.max(1));
    let proxy = Arc::new(Proxy {
        client,
        targets: shadow.targets.clone(),
        templates: shadow.templates.clone(),
        allow_writes: shadow.allow_writes,
        sample: settings.sample,
        queue,
        counters: Counters::default(),
        tally: Mutex::new(ShadowTally::default()),
    });
    tokio::spawn(mirror_worker(
        proxy.clone(),
        receiver,
        shadow.concurrency.max(1),
    ));
    on_listening(listener.local_addr().context("reading the bound address")?);
    let started = Instant::now();
    let mut reports = tokio::time::interval(settings.report_every);
    reports.tick().await;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let proxy = proxy.clone();
                        async move { Ok::<_, Infallible>(proxy.handle(request).await) }
                    });
                    // A client closing its connection mid-request is its own business.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = reports.tick() => {
                let report = snapshot(&proxy, shadow, started);
                shadow.write_reports(&report)?;
                eprintln!(
                    "shadow proxy: {} requests, {} mirrored, {} dropped, {} regression field(s)",
                    report.requests.read, report.requests.sent, report.requests.dropped,
                    report.regression_count
                );
            }
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    let report = snapshot(&proxy, shadow, started);
    shadow.write_reports(&report)?;
    Ok(report)
}

fn snapshot(proxy: &Proxy, shadow: &ShadowSettings, started: Instant) -> ShadowReport {
    let tally = proxy
        .tally
        .lock()
        .map(|tally| tally.clone())
        .unwrap_or_default();
    ShadowReport::build(
        &tally,
        ReportContext {
            mode: "proxy",
            targets: shadow.targets.urls(),
            requests: proxy.counters.snapshot(),
            max_diff_rate: shadow.max_diff_rate,
            ignore: &shadow.ignore,
            warnings: shadow.warnings(),
            insecure: shadow.tls.insecure,
            wall_time_s: started.elapsed().as_secs_f64(),
        },
    )
}

impl Proxy {
    /// Answers one client request with the primary's response, then queues the mirror.
    async fn handle(&self, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "ferry shadow proxy: the request body broke off",
                );
            }
        };
        let mut shadow = ShadowRequest::new(
            parts.method.as_str(),
            parts.uri.path_and_query().map_or("/", |path| path.as_str()),
            0,
        );
        shadow.host = parts
            .headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_string);
        shadow.headers = parts
            .headers
            .iter()
            .filter(|(name, _)| *name != HOST && !is_hop_by_hop(name))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        shadow.body = body;
        let answer = self.client.send_whole(&self.targets.primary, &shadow).await;
        let (head, body) = match answer {
            Ok(answer) => answer,
            Err(failure) => {
                if let Ok(mut tally) = self.tally.lock() {
                    tally.record_unmirrored(Err(failure));
                }
                return plain(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "ferry shadow proxy: the primary gave no response ({})",
                        failure.name()
                    ),
                );
            }
        };
        let limit = self.client.options().body_limit;
        let captured = Captured {
            status: head.status.as_u16(),
            headers: Captured::headers_of(&head.headers),
            body: CapturedBody::from_bytes(body.clone(), limit),
        };
        self.queue_mirror(shadow, captured);
        let mut response = Response::from_parts(head, Full::new(body));
        let headers = response.headers_mut();
        headers.remove(TRANSFER_ENCODING);
        headers.remove(CONNECTION);
        response
    }

    fn queue_mirror(&self, request: ShadowRequest, primary: Captured) {
        if request.is_write() && !self.allow_writes {
            self.counters.skipped_writes.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut tally) = self.tally.lock() {
                tally.record_unmirrored(Ok(primary));
            }
            return;
        }
        if self.sample < 1.0 && fastrand::f64() >= self.sample {
            self.counters.sampled_out.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.queue.try_send(Mirror { request, primary }) {
            Ok(()) => {}
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Takes mirrors off the queue, at most `concurrency` in flight.
async fn mirror_worker(proxy: Arc<Proxy>, mut queue: mpsc::Receiver<Mirror>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    while let Some(mirror) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        proxy.counters.mirrored.fetch_add(1, Ordering::Relaxed);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let request = &mirror.request;
            let (secondary, candidate) =
                proxy.targets.send_to_mirrors(&proxy.client, request).await;
            let outcomes = Outcomes {
                primary: Ok(mirror.primary),
                secondary,
                candidate,
            };
            let name = proxy.templates.endpoint(request);
            if let Ok(mut tally) = proxy.tally.lock() {
                tally.record(&name, request, &outcomes);
            }
            drop(slot);
        });
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = status;
    response
}
