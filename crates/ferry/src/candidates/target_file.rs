//! `--write-targets`: a ferry target file of a service's route mix, each route template
//! weighted by its request rate, every templated segment a `{name}` placeholder whose values
//! file the user supplies (as with any target file).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};

use super::report::ServiceReport;
use crate::load::target::{TargetFile, TargetFileRequest};

/// Weights are integers: the busiest route gets this many, the others in proportion (at
/// least 1).
const TOP_WEIGHT: f64 = 1000.0;

/// The target file for `service`'s routes, against `base_url`.
pub fn for_service(service: &ServiceReport, base_url: &str) -> Result<TargetFile> {
    let busiest = service
        .routes
        .iter()
        .map(|route| route.rps)
        .fold(0.0, f64::max);
    if busiest <= 0.0 {
        bail!(
            "{} has no route with traffic in the window: there is no mix to write",
            service.service
        );
    }
    let mut values = BTreeMap::new();
    let requests = service
        .routes
        .iter()
        .filter(|route| route.rps > 0.0)
        .map(|route| {
            let (url, names) = placeholders(&route.route);
            for name in names {
                values.insert(name.clone(), PathBuf::from(format!("{name}.txt")));
            }
            TargetFileRequest {
                name: Some(route.name()),
                weight: ((route.rps / busiest * TOP_WEIGHT).round() as u32).max(1),
                method: if route.method.is_empty() {
                    "GET".into()
                } else {
                    route.method.clone()
                },
                url,
                ..TargetFileRequest::default()
            }
        })
        .collect();
    Ok(TargetFile {
        base_url: Some(base_url.trim_end_matches('/').to_string()),
        headers: BTreeMap::new(),
        values,
        requests,
    })
}

/// A route template with every templated segment as `{name}`: `{id}` (actix, and the Node
/// baseline's metrics), `:id` (express, fastify), `<id>` and `<int:id>` (Flask).
fn placeholders(template: &str) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let segments: Vec<String> = template
        .split('/')
        .map(|segment| {
            let name = if let Some(inner) =
                segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
            {
                Some(inner.split(':').next().unwrap_or(inner))
            } else if let Some(inner) = segment.strip_prefix(':') {
                Some(inner)
            } else if let Some(inner) = segment.strip_prefix('<').and_then(|s| s.strip_suffix('>'))
            {
                Some(inner.rsplit(':').next().unwrap_or(inner))
            } else {
                None
            };
            match name.filter(|name| !name.is_empty()) {
                Some(name) => {
                    names.push(name.to_string());
                    format!("{{{name}}}")
                }
                None => segment.to_string(),
            }
        })
        .collect();
    (segments.join("/"), names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templated_segments_become_placeholders() {
        assert_eq!(
            placeholders("/users/{id}"),
            ("/users/{id}".into(), vec!["id".into()])
        );
        assert_eq!(
            placeholders("/orgs/:org/users/<int:id>"),
            (
                "/orgs/{org}/users/{id}".into(),
                vec!["org".into(), "id".into()]
            )
        );
        assert_eq!(
            placeholders("/api/v1/process"),
            ("/api/v1/process".into(), vec![])
        );
        assert_eq!(placeholders("/files/{path:.*}").0, "/files/{path}");
    }
}
