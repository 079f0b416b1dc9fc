//! What to request: one target from the command line, or several weighted targets from a
//! target file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One kind of request the run sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Shown in reports; defaults to `METHOD url`.
    pub name: String,
    /// Relative share of the requests this target gets.
    pub weight: u32,
    pub method: String,
    /// Absolute `http://` URL; may hold `{name}` placeholders.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Request body; may hold `{name}` placeholders.
    pub body: Option<String>,
    /// Values for the placeholders, by name.
    pub values: BTreeMap<String, Arc<Vec<String>>>,
    /// The statuses that are not errors; `None`: every 2xx and 3xx (see [`is_error`]).
    pub expect: Option<Vec<u16>>,
}

/// Whether a response with `status` counts as an error: by default any status outside 2xx and
/// 3xx; with `expect`, any status it does not list.
pub fn is_error(expect: Option<&[u16]>, status: u16) -> bool {
    match expect {
        Some(expected) => !expected.contains(&status),
        None => !(200..400).contains(&status),
    }
}

impl Target {
    /// A GET of `url` with no headers, body or values.
    pub fn get(url: &str) -> Target {
        Target {
            name: format!("GET {url}"),
            weight: 1,
            method: "GET".to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
            values: BTreeMap::new(),
            expect: None,
        }
    }
}

/// The JSON target file: several weighted requests against one server.
///
/// ```json
/// {
///   "base_url": "http://127.0.0.1:8080",
///   "headers": {"accept": "application/json"},
///   "values": {"id": "ids.txt"},
///   "requests": [
///     {"name": "read user", "weight": 9, "url": "/users/{id}"},
///     {"name": "create user", "weight": 1, "method": "POST", "url": "/users",
///      "headers": {"content-type": "application/json"}, "body_file": "user.json"}
///   ]
/// }
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// Prefix for request URLs that are paths.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Values files for placeholders, shared by every request (paths relative to the file).
    #[serde(default)]
    pub values: BTreeMap<String, PathBuf>,
    pub requests: Vec<TargetFileRequest>,
}

/// One entry of a target file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFileRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Inline body.
    #[serde(default)]
    pub body: Option<String>,
    /// Body read from a file (relative to the target file).
    #[serde(default)]
    pub body_file: Option<PathBuf>,
    /// Values files for this request only.
    #[serde(default)]
    pub values: BTreeMap<String, PathBuf>,
    /// The statuses that are not errors for this request [default: every 2xx and 3xx].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Vec<u16>>,
}

fn default_weight() -> u32 {
    1
}

fn default_method() -> String {
    "GET".to_string()
}

/// Reads a values file: one value per line, empty lines skipped.
pub fn read_values(path: &Path) -> Result<Arc<Vec<String>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading values file {}", path.display()))?;
    let values: Vec<String> = text
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    if values.is_empty() {
        bail!("values file {} has no values", path.display());
    }
    Ok(Arc::new(values))
}

/// Loads a target file into targets, resolving relative paths against the file's folder.
pub fn load_target_file(path: &Path) -> Result<Vec<Target>> {
    targets_of(&read_target_file(path)?, path)
}

/// Reads and parses a target file.
pub fn read_target_file(path: &Path) -> Result<TargetFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading target file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing target file {}", path.display()))
}

/// The targets of `file`, read from `path`: relative paths resolved against its folder, and
/// request URLs that are paths prefixed with its `base_url`, if it has one.
pub fn targets_of(file: &TargetFile, path: &Path) -> Result<Vec<Target>> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let resolve = |relative: &Path| folder.join(relative);
    if file.requests.is_empty() {
        bail!("target file {} lists no requests", path.display());
    }
    let mut shared_values = BTreeMap::new();
    for (name, values_path) in &file.values {
        shared_values.insert(name.clone(), read_values(&resolve(values_path))?);
    }
    let mut targets = Vec::with_capacity(file.requests.len());
    for request in &file.requests {
        let url = match (&file.base_url, request.url.starts_with('/')) {
            (Some(base), true) => format!("{}{}", base.trim_end_matches('/'), request.url),
            _ => request.url.clone(),
        };
        let mut headers: Vec<(String, String)> = file
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        headers.extend(
            request
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        let body = match (&request.body, &request.body_file) {
            (Some(_), Some(_)) => bail!(
                "request `{}` in {} has both body and body_file",
                request.url,
                path.display()
            ),
            (Some(body), None) => Some(body.clone()),
            (None, Some(body_file)) => Some(
                std::fs::read_to_string(resolve(body_file))
                    .with_context(|| format!("reading body file {}", body_file.display()))?,
            ),
            (None, None) => None,
        };
        let mut values = shared_values.clone();
        for (name, values_path) in &request.values {
            values.insert(name.clone(), read_values(&resolve(values_path))?);
        }
        let method = request.method.to_ascii_uppercase();
        targets.push(Target {
            name: request
                .name
                .clone()
                .unwrap_or_else(|| format!("{method} {}", request.url)),
            weight: request.weight,
            method,
            url,
            headers,
            body,
            values,
            expect: request.expect.clone(),
        });
    }
    Ok(targets)
}
