//! From `ferry load`'s command line to the [`LoadSettings`] of a run: the targets (a URL, a
//! target file or a flow), with the headers, body and values every request gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use ferry::load::flow::file::{ValueSets, read_flow_file};
use ferry::load::flow::{self, Flow};
use ferry::load::settings::default_threads;
use ferry::load::target::{load_target_file, read_values};
use ferry::load::{HttpVersion, LoadSettings, Model, Share, Target, TlsOptions, ValueOrder};

use super::{LoadArgs, OrderArg};

/// The settings of the run the command line asks for, as this `share` of the load.
pub(super) fn settings_from(args: &LoadArgs, share: Share) -> Result<LoadSettings> {
    let values = value_lists(args)?;
    let (mut targets, flow) = targets_of(args, &values)?;
    let headers = request_headers(args)?;
    let body = request_body(args)?;
    let single_request = is_url(&args.target) && flow.is_none();
    for target in &mut targets {
        if single_request {
            target.method = args.method.to_ascii_uppercase();
            target.name = format!("{} {}", target.method, target.url);
            target.body = body.clone();
        }
        target.headers.extend(headers.iter().cloned());
        for (name, list) in &values {
            target.values.insert(name.clone(), list.clone());
        }
    }
    Ok(LoadSettings {
        targets,
        model: model_of(args),
        duration: args.duration,
        warmup: args.warmup,
        connections: args.connections,
        threads: args.threads.unwrap_or_else(default_threads),
        timeout: args.timeout,
        http: if args.http2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Http1
        },
        streams_per_connection: args.streams,
        value_order: match args.values_order {
            OrderArg::Random => ValueOrder::Random,
            OrderArg::RoundRobin => ValueOrder::RoundRobin,
        },
        seed: args.seed,
        progress: !args.quiet && !args.no_progress,
        share,
        start_at: args.start_at,
        tls: tls_options(args),
        flow,
    })
}

/// Whether the positional argument is a URL (rather than a target file).
fn is_url(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

/// Reads every `--values [NAME=]FILE`; a bare FILE fills the URL's one placeholder.
fn value_lists(args: &LoadArgs) -> Result<ValueSets> {
    let mut values = BTreeMap::new();
    for spec in &args.values {
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (name.trim().to_string(), PathBuf::from(path.trim())),
            None => (single_placeholder(&args.target)?, PathBuf::from(spec)),
        };
        values.insert(name, read_values(&path)?);
    }
    Ok(values)
}

/// The requests to send: a flow's steps, the one URL, or a target file's requests.
fn targets_of(args: &LoadArgs, values: &ValueSets) -> Result<(Vec<Target>, Option<Flow>)> {
    let is_url = is_url(&args.target);
    if let Some(path) = &args.flow {
        if !is_url {
            bail!(
                "with --flow, the positional argument is the base URL (`http://host:port`), \
                 not `{}`",
                args.target
            );
        }
        let (targets, flow) = flow_targets(&args.target, path, values)?;
        return Ok((targets, Some(flow)));
    }
    if is_url {
        return Ok((vec![Target::get(&args.target)], None));
    }
    let path = Path::new(&args.target);
    if !path.exists() {
        bail!(
            "`{}` is neither an http:// or https:// URL nor an existing target file",
            args.target
        );
    }
    Ok((load_target_file(path)?, None))
}

/// A flow file's steps against `base_url`, its own values overridden by `--values`.
fn flow_targets(base_url: &str, path: &Path, values: &ValueSets) -> Result<(Vec<Target>, Flow)> {
    let (steps, mut flow_values) = read_flow_file(path)?;
    flow_values.extend(values.clone());
    flow::file::build(base_url, &steps, &flow_values)
        .with_context(|| format!("flow file {}", path.display()))
}

/// The `-H` headers, then the authorization header of `--bearer` or `--bearer-file`.
fn request_headers(args: &LoadArgs) -> Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("header `{header}` must be written `Name: value`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let bearer = match (&args.bearer, &args.bearer_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading bearer token file {}", path.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    if let Some(token) = bearer {
        let scheme = args.auth_scheme.trim();
        headers.push(("authorization".to_string(), format!("{scheme} {token}")));
    }
    Ok(headers)
}

/// The body of `--body`, or the content of `--body-file`.
fn request_body(args: &LoadArgs) -> Result<Option<String>> {
    Ok(match (&args.body, &args.body_file) {
        (Some(body), _) => Some(body.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading body file {}", path.display()))?,
        ),
        (None, None) => None,
    })
}

/// Open with `--rate`, else closed (with `-n`'s limit, if any).
fn model_of(args: &LoadArgs) -> Model {
    match &args.rate {
        Some(schedule) => Model::Open {
            schedule: schedule.clone(),
            max_backlog: args.max_backlog,
        },
        None => Model::Closed {
            requests: args.requests,
        },
    }
}

/// The TLS flags, for an `https://` target (an `http://` one refuses them when the run starts).
fn tls_options(args: &LoadArgs) -> TlsOptions {
    TlsOptions {
        cacert: args.cacert.clone(),
        insecure: args.insecure,
        cert: args.cert.clone(),
        key: args.key.clone(),
        handshake_per_request: args.tls_handshake_per_request,
    }
}

/// The one `{name}` of a URL, for `--values FILE` without a name.
fn single_placeholder(url: &str) -> Result<String> {
    let names: Vec<&str> = url
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    match names[..] {
        [name] => Ok(name.to_string()),
        [] => Ok("id".to_string()),
        _ => bail!("the URL has several placeholders; name each: --values NAME=FILE"),
    }
}
