//! A small client of Prometheus's HTTP query API (`/api/v1/query`, `/api/v1/query_range`),
//! with the ways a real server is reached: `https://`, a bearer token, basic auth, extra
//! headers (a tenant's `X-Scope-OrgID`), a private CA.
//!
//! Every failure says which server and which query, and carries Prometheus's own error text
//! when it sent one; nothing here panics on what a server answers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::blocking::{Client, RequestBuilder};
use serde::Deserialize;

/// How to reach the server.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `http://host:9090` or `https://…`, optionally with a path prefix (`/prometheus`).
    pub url: String,
    /// A file holding a bearer token (trailing whitespace ignored).
    pub bearer_file: Option<PathBuf>,
    /// Basic auth: the user, and a file holding the password.
    pub basic_user: Option<String>,
    pub basic_password_file: Option<PathBuf>,
    /// Sent with every query (`X-Scope-OrgID: tenant`).
    pub headers: Vec<(String, String)>,
    /// A PEM file of CA certificates trusted beyond the system's.
    pub ca_file: Option<PathBuf>,
    /// Per query.
    pub timeout: Duration,
}

/// One series of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One series of a range query: its labels and `(unix seconds, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

/// A connected client.
pub struct Prometheus {
    client: Client,
    base: String,
    auth: Auth,
    headers: Vec<(String, String)>,
}

enum Auth {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

/// The API's envelope: `{"status": "success"|"error", "data": …, "errorType", "error"}`.
#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl Prometheus {
    pub fn connect(connection: &Connection) -> Result<Prometheus> {
        let url = connection.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--prometheus {url}: the URL must start with http:// or https://");
        }
        let mut builder = Client::builder()
            .timeout(connection.timeout)
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &connection.ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the CA file {}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no valid PEM certificate", path.display()))?
            {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder
            .build()
            .context("setting up the HTTP client for Prometheus")?;
        let auth = match (
            &connection.bearer_file,
            &connection.basic_user,
            &connection.basic_password_file,
        ) {
            (Some(_), Some(_), _) => bail!("give either a bearer token or basic auth, not both"),
            (Some(file), None, _) => Auth::Bearer(read_secret(file, "bearer token")?),
            (None, Some(user), Some(file)) => Auth::Basic {
                user: user.clone(),
                password: read_secret(file, "password")?,
            },
            (None, Some(user), None) => Auth::Basic {
                user: user.clone(),
                password: String::new(),
            },
            (None, None, Some(_)) => bail!("a password file needs a user (--basic-user)"),
            (None, None, None) => Auth::None,
        };
        Ok(Prometheus {
            client,
            base: url.to_string(),
            auth,
            headers: connection.headers.clone(),
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// An instant query evaluated at `time` (unix seconds): one sample per series.
    pub fn query(&self, promql: &str, time: f64) -> Result<Vec<Sample>> {
        let data = self.call(
            "query",
            &[("query", promql.into()), ("time", time.to_string())],
            promql,
        )?;
        if data.result_type != "vector" {
            bail!(
                "Prometheus answered `{promql}` with a {} where an instant vector was expected",
                data.result_type
            );
        }
        let items: Vec<VectorItem> = serde_json::from_value(data.result)
            .with_context(|| format!("reading Prometheus's answer to `{promql}`"))?;
        items
            .into_iter()
            .map(|item| {
                Ok(Sample {
                    labels: item.metric,
                    value: parse_value(&item.value.1, promql)?,
                })
            })
            .collect()
    }

    /// A range query from `start` to `end` every `step` seconds.
    pub fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>> {
        let data = self.call(
            "query_range",
            &[
                ("query", promql.into()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
            promql,
        )?;
        if data.result_type != "matrix" {
            bail!(
                "Prometheus answered `{promql}` with a {} where a range vector was expected",
                data.result_type
            );
        }
        let items: Vec<MatrixItem> = serde_json::from_value(data.result)
            .with_context(|| format!("reading Prometheus's answer to `{promql}`"))?;
        items
            .into_iter()
            .map(|item| {
                let points = item
                    .values
                    .iter()
                    .map(|(time, value)| Ok((*time, parse_value(value, promql)?)))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Series {
                    labels: item.metric,
                    points,
                })
            })
            .collect()
    }

    /// The server's clock now, as Prometheus evaluates `time()`: queries are evaluated at one
    /// instant of the server's, not of this machine's.
    pub fn now(&self) -> Result<f64> {
        let data = self.call("query", &[("query", "time()".into())], "time()")?;
        let (time, _): (f64, String) = serde_json::from_value(data.result)
            .context("reading Prometheus's answer to `time()`")?;
        Ok(time)
    }

    fn call(&self, endpoint: &str, form: &[(&str, String)], promql: &str) -> Result<Data> {
        let url = format!("{}/api/v1/{endpoint}", self.base);
        let request = self.authorised(self.client.post(&url).form(form));
        let response = request.send().map_err(|error| {
            let cause = if error.is_timeout() {
                "timed out".to_string()
            } else if error.is_connect() {
                format!("cannot connect ({})", root_cause(&error))
            } else {
                root_cause(&error)
            };
            anyhow::anyhow!("Prometheus at {} is unreachable: {cause}", self.base)
        })?;
        let status = response.status();
        let body = response
            .text()
            .with_context(|| format!("reading Prometheus's answer from {url}"))?;
        let envelope: Option<Envelope> = serde_json::from_str(&body).ok();
        match envelope {
            Some(envelope) if envelope.status == "success" && status.is_success() => envelope
                .data
                .with_context(|| format!("Prometheus answered `{promql}` without data")),
            Some(envelope) => bail!(
                "Prometheus at {} refused the query `{promql}` (HTTP {}, {}): {}",
                self.base,
                status.as_u16(),
                envelope.error_type.as_deref().unwrap_or("error"),
                envelope.error.as_deref().unwrap_or("no error text")
            ),
            None => bail!(
                "{url} answered HTTP {} with something that is not the Prometheus API{}: {}",
                status.as_u16(),
                match status.as_u16() {
                    401 | 403 => " (check --bearer-file, --basic-user or --header)",
                    404 => " (is the URL the server's root or its path prefix?)",
                    _ => "",
                },
                excerpt(&body)
            ),
        }
    }

    fn authorised(&self, mut request: RequestBuilder) -> RequestBuilder {
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
        };
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request
    }
}

/// Prometheus sends sample values as strings: numbers, `NaN`, `+Inf`, `-Inf`.
fn parse_value(text: &str, promql: &str) -> Result<f64> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse()
            .with_context(|| format!("a sample of `{promql}` is not a number: {text}")),
    }
}

fn read_secret(path: &std::path::Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} file {}", path.display()))?;
    let secret = text.trim_end().to_string();
    if secret.is_empty() {
        bail!("the {what} file {} is empty", path.display());
    }
    Ok(secret)
}

/// The innermost cause of an error: "Connection refused (os error 111)", not the chain.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// `--header 'Name: value'`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not `Name: value`"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{text}` has no header name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_headers_parse() {
        assert_eq!(parse_value("0.25", "q").unwrap(), 0.25);
        assert!(parse_value("NaN", "q").unwrap().is_nan());
        assert_eq!(parse_value("+Inf", "q").unwrap(), f64::INFINITY);
        assert!(parse_value("x", "q").is_err());
        assert_eq!(
            parse_header("X-Scope-OrgID: tenant-1").unwrap(),
            ("X-Scope-OrgID".to_string(), "tenant-1".to_string())
        );
        assert!(parse_header("no colon").is_err());
    }
}
