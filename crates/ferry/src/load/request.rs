//! Turning targets into HTTP requests, fast: everything that can be prepared once is, and a
//! per-worker picker chooses a target by weight and fills its placeholders.

use std::borrow::Cow;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::target::Target;
use super::template::Template;

/// What an extracted value has percent-encoded in a URL: what cannot stand in a path
/// segment or a query value as it is.
const URL_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// How a request's placeholder values are chosen from their values file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueOrder {
    /// Uniformly at random, each request independently.
    #[default]
    Random,
    /// In file order, wrapping around; workers interleave so that the run as a whole walks the
    /// file in order.
    RoundRobin,
}

/// Targets prepared for sending: parsed once, shared by every worker.
#[derive(Debug)]
pub struct RequestPlan {
    /// The address every connection goes to.
    pub address: SocketAddr,
    /// `host:port` as written in the URLs.
    pub authority: String,
    /// The URLs are `https://`: every connection speaks TLS.
    pub tls: bool,
    targets: Vec<PreparedTarget>,
    /// Running sum of weights, for weighted picks.
    cumulative_weights: Vec<u64>,
    absolute_uris: bool,
}

#[derive(Debug)]
struct PreparedTarget {
    method: Method,
    path: Template,
    /// The path when it has no placeholder, so that a static target never re-parses it.
    static_uri: Option<Uri>,
    headers: HeaderMap,
    /// Headers whose value has a placeholder, filled per request.
    header_templates: Vec<(HeaderName, Template)>,
    body: Option<Template>,
    static_body: Bytes,
    values: Vec<Arc<Vec<String>>>,
    /// Value lists this target's templates use; only those are drawn per request.
    used_values: Vec<usize>,
    /// The statuses that are not errors (`Target::expect`).
    expect: Option<Vec<u16>>,
}

impl RequestPlan {
    /// Prepares `targets`; they must all name the same `http://host:port` (or `https://`),
    /// because connections are shared by every target. `absolute_uris` writes full URIs
    /// (HTTP/2 needs the scheme and authority), otherwise the origin form `/path?query` of
    /// HTTP/1.1.
    pub fn new(targets: &[Target], absolute_uris: bool) -> Result<RequestPlan> {
        RequestPlan::with_extracted(targets, absolute_uris, &[])
    }

    /// Like [`RequestPlan::new`], for the steps of a flow: `extracted` are the names its
    /// steps take from responses ([`super::flow::Flow::names`]), placeholders filled by
    /// [`RequestPicker::step_request`].
    pub fn with_extracted(
        targets: &[Target],
        absolute_uris: bool,
        extracted: &[String],
    ) -> Result<RequestPlan> {
        if targets.is_empty() {
            bail!("no target to send requests to");
        }
        let mut authority: Option<String> = None;
        let mut scheme: Option<&str> = None;
        let mut prepared = Vec::with_capacity(targets.len());
        let mut cumulative_weights = Vec::with_capacity(targets.len());
        let mut total_weight = 0u64;
        for target in targets {
            let (target_scheme, target_authority, path) = split_url(&target.url)?;
            match scheme {
                None => scheme = Some(target_scheme),
                Some(existing) if existing != target_scheme => bail!(
                    "all targets must share one server, but some are {existing}:// and some \
                     {target_scheme}://: ferry keeps one pool of connections per run"
                ),
                Some(_) => {}
            }
            match &authority {
                None => authority = Some(target_authority.to_string()),
                Some(existing) if existing != target_authority => bail!(
                    "all targets must share one server, but `{}` and `{}` differ: ferry keeps one \
                     pool of keep-alive connections per run",
                    existing,
                    target_authority
                ),
                Some(_) => {}
            }
            // Placeholder `i` is values list `i`, or extracted name `i - values.len()`.
            let mut names: Vec<String> = target.values.keys().cloned().collect();
            names.extend(extracted.iter().cloned());
            let values: Vec<Arc<Vec<String>>> = target.values.values().cloned().collect();
            let path_text = if absolute_uris {
                format!("{target_scheme}://{target_authority}{path}")
            } else {
                path.to_string()
            };
            let path_template = Template::parse(&path_text, &names);
            let static_uri = if path_template.is_static() {
                Some(
                    path_text
                        .parse::<Uri>()
                        .with_context(|| format!("`{}` is not a valid URL", target.url))?,
                )
            } else {
                for index in path_template.value_indices() {
                    if let Some(list) = values.get(index) {
                        validate_path_values(&names[index], list)?;
                    }
                }
                None
            };
            let body = target
                .body
                .as_ref()
                .map(|body| Template::parse(body, &names));
            let static_body = match &body {
                Some(template) if template.is_static() => Bytes::from(template.render(|_| "")),
                _ => Bytes::new(),
            };
            let mut used_values: Vec<usize> = path_template.value_indices().collect();
            if let Some(template) = &body {
                used_values.extend(template.value_indices());
            }
            used_values.retain(|&index| index < values.len());
            used_values.sort_unstable();
            used_values.dedup();
            let mut headers = HeaderMap::new();
            let host = HeaderValue::from_str(target_authority)
                .with_context(|| format!("`{target_authority}` is not a valid host"))?;
            // HTTP/2 carries the authority of the absolute URI as `:authority`; a `host`
            // header beside it is a duplicate to servers such as nginx (400).
            if !absolute_uris {
                headers.insert(HOST, host);
            }
            let mut header_templates = Vec::new();
            for (name, value) in &target.headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .with_context(|| format!("`{name}` is not a valid header name"))?;
                let template = Template::parse(value, &names);
                if template.is_static() {
                    let value = HeaderValue::from_str(value)
                        .with_context(|| format!("the value of header `{name}` is not valid"))?;
                    headers.append(name, value);
                } else {
                    header_templates.push((name, template));
                }
            }
            let method = Method::from_bytes(target.method.as_bytes())
                .with_context(|| format!("`{}` is not an HTTP method", target.method))?;
            total_weight += u64::from(target.weight);
            cumulative_weights.push(total_weight);
            prepared.push(PreparedTarget {
                method,
                path: path_template,
                static_uri,
                headers,
                header_templates,
                body: body.filter(|template| !template.is_static()),
                static_body,
                values,
                used_values,
                expect: target.expect.clone(),
            });
        }
        if total_weight == 0 {
            bail!("every target has weight 0");
        }
        let authority = authority.context("targets were checked to be non-empty")?;
        let tls = scheme == Some("https");
        let address = resolve(&authority, if tls { 443 } else { 80 })?;
        Ok(RequestPlan {
            address,
            authority,
            tls,
            targets: prepared,
            cumulative_weights,
            absolute_uris,
        })
    }

    /// Whether `status` is an error for a request of target `index`.
    pub fn is_error(&self, index: usize, status: u16) -> bool {
        let expect = self.targets.get(index).and_then(|t| t.expect.as_deref());
        super::target::is_error(expect, status)
    }

    /// Number of targets.
    pub fn target_count(&self) -> usize {
        self.targets.len()
    }

    /// Whether URIs are written in absolute form (HTTP/2).
    pub fn absolute_uris(&self) -> bool {
        self.absolute_uris
    }
}

/// Splits `http://host:port/path?query` (or `https://`) into the scheme, the authority and
/// the path-and-query.
fn split_url(url: &str) -> Result<(&'static str, &str, &str)> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else {
        bail!("`{url}` is neither an http:// nor an https:// URL");
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        bail!("`{url}` has no host");
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

/// The address of `authority`, on `default_port` when it names none.
fn resolve(authority: &str, default_port: u16) -> Result<SocketAddr> {
    let with_port = if authority.starts_with('[') {
        if authority.contains("]:") {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        }
    } else if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving `{authority}`"))?
        .next()
        .with_context(|| format!("`{authority}` resolves to no address"))
}

fn validate_path_values(name: &str, values: &[String]) -> Result<()> {
    for value in values {
        if format!("/{value}")
            .parse::<hyper::http::uri::PathAndQuery>()
            .is_err()
        {
            bail!(
                "value `{value}` for `{{{name}}}` cannot appear in a URL (percent-encode it in the \
                 values file)"
            );
        }
    }
    Ok(())
}

/// One worker's request maker: picks targets by weight and values in the chosen order.
pub struct RequestPicker {
    plan: Arc<RequestPlan>,
    rng: fastrand::Rng,
    order: ValueOrder,
    /// Round-robin position per target per value list.
    cursors: Vec<Vec<usize>>,
    /// How far a round-robin cursor moves per use: the lane count, so lanes interleave.
    stride: usize,
    /// Scratch space for the value index drawn for each list.
    drawn: Vec<usize>,
}

impl RequestPicker {
    /// A picker for lane `lane` of `lanes`: a worker of one run, or of one share of a load
    /// split over hosts (`Share::lane`), so that every lane walks its own values.
    pub fn new(
        plan: Arc<RequestPlan>,
        order: ValueOrder,
        seed: u64,
        lane: usize,
        lanes: usize,
    ) -> Self {
        let cursors = plan
            .targets
            .iter()
            .map(|target| vec![lane; target.values.len()])
            .collect();
        RequestPicker {
            plan,
            rng: fastrand::Rng::with_seed(seed ^ (lane as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            order,
            cursors,
            stride: lanes.max(1),
            drawn: Vec::new(),
        }
    }

    /// The plan this picker draws from.
    pub fn plan(&self) -> &RequestPlan {
        &self.plan
    }

    /// The next request to send, and the index of its target.
    pub fn next_request(&mut self) -> Result<(usize, Request<Full<Bytes>>)> {
        let index = self.pick_target();
        Ok((index, self.render(index, &[])?))
    }

    /// The request of flow step `index`, its placeholders filled from the values files and
    /// from `extracted` (the iteration's values so far, in [`super::flow::Flow::names`]
    /// order; those of later steps are still empty). Extracted values are percent-encoded
    /// in the URL and used as they are in headers and body.
    pub fn step_request(
        &mut self,
        index: usize,
        extracted: &[String],
    ) -> Result<Request<Full<Bytes>>> {
        self.render(index, extracted)
    }

    fn render(&mut self, index: usize, extracted: &[String]) -> Result<Request<Full<Bytes>>> {
        let target = &self.plan.targets[index];
        self.drawn.clear();
        self.drawn.resize(target.values.len(), 0);
        for &list in &target.used_values {
            let len = target.values[list].len();
            self.drawn[list] = match self.order {
                ValueOrder::Random => self.rng.usize(..len),
                ValueOrder::RoundRobin => {
                    let cursor = &mut self.cursors[index][list];
                    let position = *cursor % len;
                    *cursor = cursor.wrapping_add(self.stride);
                    position
                }
            };
        }
        let drawn = &self.drawn;
        let lists = target.values.len();
        let value = |list: usize| match target.values.get(list) {
            Some(values) => values[drawn[list]].as_str(),
            None => extracted[list - lists].as_str(),
        };
        let uri = match &target.static_uri {
            Some(uri) => uri.clone(),
            None => {
                let in_url: Vec<Cow<str>> = extracted
                    .iter()
                    .map(|text| utf8_percent_encode(text, URL_VALUE).into())
                    .collect();
                let url_value = |list: usize| match target.values.get(list) {
                    Some(values) => values[drawn[list]].as_str(),
                    None => in_url[list - lists].as_ref(),
                };
                target
                    .path
                    .render_with(url_value, &mut self.rng)
                    .parse::<Uri>()
                    .context("a filled URL template is not a valid URI")?
            }
        };
        let body = match &target.body {
            Some(template) => Bytes::from(template.render_with(value, &mut self.rng)),
            None => target.static_body.clone(),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = target.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = target.headers.clone();
        for (name, template) in &target.header_templates {
            let value = HeaderValue::from_str(&template.render_with(value, &mut self.rng))
                .with_context(|| format!("a filled value of header `{name}` is not valid"))?;
            request.headers_mut().append(name.clone(), value);
        }
        Ok(request)
    }

    fn pick_target(&mut self) -> usize {
        let weights = &self.plan.cumulative_weights;
        if weights.len() == 1 {
            return 0;
        }
        let total = weights[weights.len() - 1];
        let draw = self.rng.u64(..total);
        weights.partition_point(|&cumulative| cumulative <= draw)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn target_with_ids(ids: &[&str]) -> Target {
        let mut values = BTreeMap::new();
        values.insert(
            "id".to_string(),
            Arc::new(ids.iter().map(|id| id.to_string()).collect()),
        );
        Target {
            url: "http://127.0.0.1:9/users/{id}".to_string(),
            body: Some(r#"{"id": "{id}"}"#.to_string()),
            values,
            ..Target::get("http://127.0.0.1:9/")
        }
    }

    #[test]
    fn round_robin_walks_the_values_file_in_order() {
        let plan = Arc::new(RequestPlan::new(&[target_with_ids(&["a", "b", "c"])], false).unwrap());
        let mut picker = RequestPicker::new(plan, ValueOrder::RoundRobin, 1, 0, 1);
        let paths: Vec<String> = (0..4)
            .map(|_| picker.next_request().unwrap().1.uri().to_string())
            .collect();
        assert_eq!(paths, ["/users/a", "/users/b", "/users/c", "/users/a"]);
    }

    #[test]
    fn shares_walk_disjoint_values_that_together_are_the_file() {
        let plan =
            Arc::new(RequestPlan::new(&[target_with_ids(&["a", "b", "c", "d"])], false).unwrap());
        let walk = |share: &str| -> Vec<String> {
            let (lane, lanes) = share.parse::<crate::load::Share>().unwrap().lane(0, 1);
            let mut picker = RequestPicker::new(
                plan.clone(),
                ValueOrder::RoundRobin,
                1,
                lane as usize,
                lanes as usize,
            );
            (0..4)
                .map(|_| picker.next_request().unwrap().1.uri().to_string())
                .collect()
        };
        assert_eq!(
            walk("1/2"),
            ["/users/a", "/users/c", "/users/a", "/users/c"]
        );
        assert_eq!(
            walk("2/2"),
            ["/users/b", "/users/d", "/users/b", "/users/d"]
        );
        // Random picks are seeded per share, so two hosts do not draw the same sequence.
        let draws = |lane: usize| -> Vec<String> {
            let mut picker = RequestPicker::new(plan.clone(), ValueOrder::Random, 1, lane, 2);
            (0..32)
                .map(|_| picker.next_request().unwrap().1.uri().to_string())
                .collect()
        };
        assert_ne!(draws(0), draws(1));
    }

    #[test]
    fn the_same_value_fills_url_and_body() {
        let plan = Arc::new(RequestPlan::new(&[target_with_ids(&["x", "y"])], false).unwrap());
        let mut picker = RequestPicker::new(plan, ValueOrder::Random, 7, 0, 1);
        for _ in 0..20 {
            let (_, request) = picker.next_request().unwrap();
            let id = request
                .uri()
                .path()
                .trim_start_matches("/users/")
                .to_string();
            let body = request.body().clone();
            let expected = format!(r#"{{"id": "{id}"}}"#);
            let expected = Full::new(Bytes::from(expected));
            assert_eq!(format!("{body:?}"), format!("{expected:?}"));
            assert_eq!(request.headers()[HOST], "127.0.0.1:9");
        }
    }

    #[test]
    fn weights_share_the_requests() {
        let heavy = Target {
            weight: 9,
            ..Target::get("http://127.0.0.1:9/heavy")
        };
        let light = Target::get("http://127.0.0.1:9/light");
        let plan = Arc::new(RequestPlan::new(&[heavy, light], false).unwrap());
        let mut picker = RequestPicker::new(plan, ValueOrder::Random, 3, 0, 1);
        let heavy_count = (0..10_000)
            .filter(|_| picker.next_request().unwrap().0 == 0)
            .count();
        assert!((8_700..9_300).contains(&heavy_count), "{heavy_count}");
    }

    #[test]
    fn targets_on_different_servers_are_refused() {
        let one = Target::get("http://127.0.0.1:9/");
        let other = Target::get("http://127.0.0.1:10/");
        assert!(RequestPlan::new(&[one, other], false).is_err());
        let secure = Target::get("https://127.0.0.1:9/");
        let plain = Target::get("http://127.0.0.1:9/");
        assert!(RequestPlan::new(&[secure.clone(), plain], false).is_err());
        let plan = RequestPlan::new(&[secure], true).unwrap();
        assert!(plan.tls);
        assert!(
            !RequestPlan::new(&[Target::get("http://127.0.0.1/")], false)
                .unwrap()
                .tls
        );
        let default_port = RequestPlan::new(&[Target::get("https://127.0.0.1/")], false).unwrap();
        assert_eq!(default_port.address.port(), 443);
        assert!(RequestPlan::new(&[Target::get("ftp://127.0.0.1/")], false).is_err());
    }
}
