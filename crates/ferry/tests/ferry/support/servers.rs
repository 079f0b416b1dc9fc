//! Small real servers for the tests, each on its own port of 127.0.0.1 and its own threads.

use std::convert::Infallible;
use std::io::Read;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How a test server answers.
#[derive(Clone)]
pub enum Behaviour {
    /// `200 Hello, World!` at once.
    Plaintext,
    /// Answers with this status.
    Status(u16),
    /// Like Plaintext, but the first request arriving `after` the server started begins a
    /// stall of `stall`: every request being answered during it waits until it ends.
    StallOnce { after: Duration, stall: Duration },
}

/// Starts a hyper server with `behaviour` on a background thread; it lives as long as the
/// test process.
pub fn start_server(behaviour: Behaviour) -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("binding an ephemeral loopback port");
    listener
        .set_nonblocking(true)
        .expect("setting a fresh listener non-blocking");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("building the test server's runtime");
        runtime.block_on(serve(listener, behaviour));
    });
    address
}

async fn serve(listener: StdListener, behaviour: Behaviour) {
    let listener = TcpListener::from_std(listener).expect("registering the listener with tokio");
    let started = Instant::now();
    let stall_end: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let behaviour = behaviour.clone();
        let stall_end = stall_end.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                let behaviour = behaviour.clone();
                let stall_end = stall_end.clone();
                async move {
                    let status = match behaviour {
                        Behaviour::Plaintext => StatusCode::OK,
                        Behaviour::Status(code) => {
                            StatusCode::from_u16(code).expect("tests pass valid status codes")
                        }
                        Behaviour::StallOnce { after, stall } => {
                            let now = Instant::now();
                            let end = {
                                let mut end = stall_end
                                    .lock()
                                    .expect("no test code panics holding this lock");
                                if end.is_none() && now.duration_since(started) >= after {
                                    *end = Some(now + stall);
                                }
                                *end
                            };
                            if let Some(end) = end.filter(|end| *end > now) {
                                tokio::time::sleep_until(end.into()).await;
                            }
                            StatusCode::OK
                        }
                    };
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A server that reads each request and then resets the connection (RST, via SO_LINGER 0).
pub fn start_resetting_server() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("binding an ephemeral loopback port");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                // Wait for the request so that the reset hits it in flight.
                let _ = stream.read(&mut buffer);
                let socket = socket2::SockRef::from(&stream);
                let _ = socket.set_linger(Some(Duration::ZERO));
                drop(stream);
            });
        }
    });
    address
}

/// A server that accepts connections and reads requests but never answers.
pub fn start_silent_server() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("binding an ephemeral loopback port");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while matches!(stream.read(&mut buffer), Ok(read) if read > 0) {}
            });
        }
    });
    address
}

/// An address nothing listens on: a port that was bound, then released.
pub fn refused_address() -> SocketAddr {
    let port = pg_embedded::free_port().expect("the loopback interface has free ports");
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn url(address: SocketAddr) -> String {
    format!("http://{address}/")
}
