//! Sending one request to one target over keep-alive connections (HTTP/1.1, or HTTPS through
//! rustls), with a timeout covering the whole exchange, body included.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::http::response::Parts;
use hyper::{Method, Request, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::request::ShadowRequest;
use super::response::{BodyReader, Captured};

/// The three roles of a shadow run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Secondary,
    Candidate,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Candidate => "candidate",
        }
    }
}

/// One target: where it is and what it adds to every request.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub role: Role,
    /// As given: `http://127.0.0.1:8080` or `https://host/prefix`.
    pub url: String,
    scheme: String,
    authority: String,
    /// A path prefix in the URL (`/prefix`), without the trailing slash.
    prefix: String,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Upstream {
    /// Parses `url` and the `Name: value` headers given for this target.
    pub fn new(role: Role, url: &str, headers: &[String]) -> Result<Upstream> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--{}: `{url}` is not a URL", role.name()))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme.to_string(),
            _ => bail!(
                "--{}: `{url}` is not an http:// or https:// URL",
                role.name()
            ),
        };
        let authority = uri
            .authority()
            .with_context(|| format!("--{}: `{url}` has no host", role.name()))?
            .to_string();
        let prefix = uri.path().trim_end_matches('/').to_string();
        let extra_headers = headers
            .iter()
            .map(|header| parse_header(header, role))
            .collect::<Result<_>>()?;
        Ok(Upstream {
            role,
            url: url.to_string(),
            scheme,
            authority,
            prefix,
            extra_headers,
        })
    }

    /// Whether it is reached over TLS.
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// `host:port`, with the scheme's default port when the URL gives none.
    pub fn socket_authority(&self) -> String {
        let has_port = self
            .authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()));
        if has_port {
            self.authority.clone()
        } else if self.scheme == "https" {
            format!("{}:443", self.authority)
        } else {
            format!("{}:80", self.authority)
        }
    }
}

fn parse_header(text: &str, role: Role) -> Result<(HeaderName, HeaderValue)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("--header-{}: `{text}` is not `Name: value`", role.name());
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .with_context(|| format!("--header-{}: `{name}` is not a header name", role.name()))?;
    let value = HeaderValue::from_str(value.trim())
        .with_context(|| format!("--header-{}: the value of `{name}` is invalid", role.name()))?;
    Ok((name, value))
}

/// Why a target gave no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// No connection could be made.
    Connect,
    /// No complete response within the timeout.
    Timeout,
    /// The connection broke (reset, closed early, malformed response).
    Reset,
}

impl Failure {
    pub fn name(self) -> &'static str {
        match self {
            Failure::Connect => "connect",
            Failure::Timeout => "timeout",
            Failure::Reset => "reset",
        }
    }
}

/// How every request is sent.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    pub timeout: Duration,
    /// Bodies over this many bytes are compared by digest.
    pub body_limit: usize,
    /// Send the request's own `Host` instead of the target's.
    pub keep_host: bool,
}

/// A pooled HTTP/HTTPS client shared by every request of a run; `tls` (from
/// [`super::tls::client_config`]) is how it speaks to `https://` targets.
#[derive(Clone)]
pub struct ShadowClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    options: SendOptions,
}

impl ShadowClient {
    pub fn new(options: SendOptions, tls: rustls::ClientConfig) -> ShadowClient {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.timeout));
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        ShadowClient { client, options }
    }

    pub fn options(&self) -> SendOptions {
        self.options
    }

    /// Sends `request` to `target` and reads the response, body limited as configured.
    pub async fn send(
        &self,
        target: &Upstream,
        request: &ShadowRequest,
    ) -> Result<Captured, Failure> {
        let limit = self.options.body_limit;
        let (parts, body) = self
            .exchange(target, request, |body| {
                BodyReader::new(limit).read_body(body)
            })
            .await?;
        Ok(Captured {
            status: parts.status.as_u16(),
            headers: Captured::headers_of(&parts.headers),
            body,
        })
    }

    /// Sends `request` to `target` and returns the whole response as received: the proxy's
    /// answer to its client, status, headers and body bytes unchanged.
    pub async fn send_whole(
        &self,
        target: &Upstream,
        request: &ShadowRequest,
    ) -> Result<(Parts, Bytes), Failure> {
        self.exchange(target, request, |body| async {
            Ok::<_, hyper::Error>(body.collect().await?.to_bytes())
        })
        .await
    }

    /// One exchange under the timeout: connect, send, receive the head, `read_body`.
    async fn exchange<T, F, Fut>(
        &self,
        target: &Upstream,
        request: &ShadowRequest,
        read_body: F,
    ) -> Result<(Parts, T), Failure>
    where
        F: FnOnce(hyper::body::Incoming) -> Fut,
        Fut: Future<Output = Result<T, hyper::Error>>,
    {
        // A request that cannot be built (a header the source allowed but HTTP does not)
        // gets no response from anyone: it counts as the connection failing.
        let http_request =
            build(target, request, self.options.keep_host).map_err(|_| Failure::Reset)?;
        let exchange = async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(failure_of)?;
            let (parts, body) = response.into_parts();
            let body = read_body(body).await.map_err(|_| Failure::Reset)?;
            Ok((parts, body))
        };
        tokio::time::timeout(self.options.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout))
    }
}

fn failure_of(error: hyper_util::client::legacy::Error) -> Failure {
    if error.is_connect() {
        Failure::Connect
    } else {
        Failure::Reset
    }
}

/// The request as `target` gets it: its URL, its `Host` (or the original with `keep_host`),
/// the request's headers and then the target's own.
fn build(
    target: &Upstream,
    request: &ShadowRequest,
    keep_host: bool,
) -> Result<Request<Full<Bytes>>> {
    let uri = format!(
        "{}://{}{}{}",
        target.scheme, target.authority, target.prefix, request.path
    );
    let method = Method::from_bytes(request.method.as_bytes())
        .with_context(|| format!("`{}` is not an HTTP method", request.method))?;
    let mut builder = Request::builder().method(method).uri(&uri);
    let host = match (&request.host, keep_host) {
        (Some(original), true) => original.as_str(),
        _ => target.authority.as_str(),
    };
    builder = builder.header(HOST, host);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("host") {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let mut http_request = builder
        .body(Full::new(request.body.clone()))
        .with_context(|| format!("building the request for {uri}"))?;
    for (name, value) in &target.extra_headers {
        http_request
            .headers_mut()
            .insert(name.clone(), value.clone());
    }
    Ok(http_request)
}

/// Whether a TCP connection to `target` can be made within `timeout`: checked before a run,
/// so that a wrong URL stops it at once instead of counting errors.
pub async fn reachable(target: &Upstream, timeout: Duration) -> Result<()> {
    let authority = target.socket_authority();
    let connect = tokio::net::TcpStream::connect(authority.as_str());
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => bail!(
            "the {} ({}) is unreachable: {error}",
            target.role.name(),
            target.url
        ),
        Err(_) => bail!(
            "the {} ({}) did not accept a connection within {timeout:?}",
            target.role.name(),
            target.url
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_http_and_https_with_prefixes_and_headers() {
        let plain = Upstream::new(Role::Primary, "http://127.0.0.1:8080", &[]).unwrap();
        assert_eq!(plain.socket_authority(), "127.0.0.1:8080");
        let tls = Upstream::new(
            Role::Candidate,
            "https://api.example.com/v2/",
            &["Authorization: Bearer x".to_string()],
        )
        .unwrap();
        assert_eq!(tls.socket_authority(), "api.example.com:443");
        let request = ShadowRequest::new("GET", "/users/1?x=2", 1);
        let built = build(&tls, &request, false).unwrap();
        assert_eq!(built.uri(), "https://api.example.com/v2/users/1?x=2");
        assert_eq!(built.headers()[HOST], "api.example.com");
        assert_eq!(built.headers()["authorization"], "Bearer x");
        let mut original = request.clone();
        original.host = Some("shop.example".to_string());
        assert_eq!(
            build(&plain, &original, true).unwrap().headers()[HOST],
            "shop.example"
        );
        assert_eq!(
            build(&plain, &original, false).unwrap().headers()[HOST],
            "127.0.0.1:8080"
        );
        let error = Upstream::new(Role::Secondary, "ftp://x", &[]).unwrap_err();
        assert!(error.to_string().contains("--secondary"), "{error}");
        let error = Upstream::new(Role::Candidate, "http://x", &["nocolon".into()]).unwrap_err();
        assert!(error.to_string().contains("--header-candidate"), "{error}");
    }
}
