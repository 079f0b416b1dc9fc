//! Writing a flow down: the JSON file of `ferry load --flow FILE`, and the steps a lab's
//! `[[scenario.flow]]` tables become. Both turn into the run's targets plus a [`Flow`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::super::target::{Target, read_values};
use super::{Flow, FlowStep};
use crate::units::parse_duration;

/// A flow file: `{"steps": [{"request": "POST /a", "extract": {"id": "/id"}}, …]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// Values files for `{name}` placeholders, relative to the flow file.
    #[serde(default)]
    pub values: BTreeMap<String, PathBuf>,
    pub steps: Vec<FlowFileStep>,
}

/// One step of a flow file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFileStep {
    #[serde(default)]
    pub name: Option<String>,
    /// `METHOD PATH`.
    pub request: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Placeholder name → JSON Pointer into the response body.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// A pause before the request: `"50ms"`.
    #[serde(default)]
    pub think: Option<String>,
    #[serde(default)]
    pub expect: Option<Vec<u16>>,
}

/// A step as a lab or a flow file gives it, paths not yet joined to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSpec {
    pub name: Option<String>,
    /// `METHOD PATH`.
    pub request: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub extract: Vec<(String, String)>,
    pub think: Duration,
    pub expect: Option<Vec<u16>>,
}

/// Values for placeholders, by name.
pub type ValueSets = BTreeMap<String, Arc<Vec<String>>>;

/// Reads a flow file: its steps and its values.
pub fn read_flow_file(path: &Path) -> Result<(Vec<StepSpec>, ValueSets)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading flow file {}", path.display()))?;
    let file: FlowFile = serde_json::from_str(&text)
        .with_context(|| format!("parsing flow file {}", path.display()))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut values = BTreeMap::new();
    for (name, values_path) in &file.values {
        values.insert(name.clone(), read_values(&folder.join(values_path))?);
    }
    let steps = file
        .steps
        .into_iter()
        .map(|step| {
            let think = step
                .think
                .as_deref()
                .map(parse_duration)
                .transpose()
                .with_context(|| format!("flow file {}: step `{}`", path.display(), step.request))?
                .unwrap_or(Duration::ZERO);
            Ok(StepSpec {
                name: step.name,
                request: step.request,
                headers: step.headers.into_iter().collect(),
                body: step.body,
                extract: step.extract.into_iter().collect(),
                think,
                expect: step.expect,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((steps, values))
}

/// The run's targets (one per step, on `base_url`) and the flow of `steps`, checked.
pub fn build(
    base_url: &str,
    steps: &[StepSpec],
    values: &ValueSets,
) -> Result<(Vec<Target>, Flow)> {
    let mut targets = Vec::with_capacity(steps.len());
    let mut flow = Flow::default();
    for spec in steps {
        let Some((method, path)) = spec.request.trim().split_once(' ') else {
            bail!(
                "flow step `{}`: a request is `METHOD PATH`, as in `GET /users/{{id}}`",
                spec.request
            );
        };
        let path = path.trim();
        if !path.starts_with('/') {
            bail!(
                "flow step `{}`: the path must start with `/`; the server is the run's",
                spec.request
            );
        }
        let method = method.to_ascii_uppercase();
        let name = spec
            .name
            .clone()
            .unwrap_or_else(|| format!("{method} {path}"));
        targets.push(Target {
            name: name.clone(),
            weight: 1,
            method,
            url: format!("{}{path}", base_url.trim_end_matches('/')),
            headers: spec.headers.clone(),
            body: spec.body.clone(),
            values: values.clone(),
            expect: spec.expect.clone(),
        });
        flow.steps.push(FlowStep {
            name,
            think: spec.think,
            extract: spec.extract.clone(),
        });
    }
    let texts: Vec<Vec<&str>> = targets
        .iter()
        .map(|target| {
            let mut texts = vec![target.url.as_str()];
            texts.extend(target.headers.iter().map(|(_, value)| value.as_str()));
            texts.extend(target.body.as_deref());
            texts
        })
        .collect();
    let names: Vec<Vec<&str>> = targets
        .iter()
        .map(|target| target.values.keys().map(String::as_str).collect())
        .collect();
    flow.check(&texts, &names)?;
    Ok((targets, flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(request: &str, extract: &[(&str, &str)]) -> StepSpec {
        StepSpec {
            name: None,
            request: request.to_string(),
            headers: Vec::new(),
            body: None,
            extract: extract
                .iter()
                .map(|(name, pointer)| (name.to_string(), pointer.to_string()))
                .collect(),
            think: Duration::ZERO,
            expect: None,
        }
    }

    #[test]
    fn steps_become_targets_on_the_base_url_in_order() {
        let (targets, flow) = build(
            "http://127.0.0.1:9/",
            &[
                step("post /notes", &[("id", "/id")]),
                step("GET /notes/{id}", &[]),
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(targets[0].url, "http://127.0.0.1:9/notes");
        assert_eq!(targets[0].method, "POST");
        assert_eq!(targets[1].name, "GET /notes/{id}");
        assert_eq!(flow.names(), ["id"]);
    }

    #[test]
    fn a_name_used_before_it_is_extracted_is_refused() {
        let error = build(
            "http://127.0.0.1:9",
            &[
                step("GET /notes/{id}", &[]),
                step("POST /notes", &[("id", "/id")]),
            ],
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("before step"), "{error}");
        let error = build(
            "http://127.0.0.1:9",
            &[step("POST /notes", &[("id", "id")])],
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("JSON Pointer"), "{error}");
        let values = BTreeMap::from([("id".to_string(), Arc::new(vec!["1".to_string()]))]);
        let error = build(
            "http://127.0.0.1:9",
            &[step("POST /notes", &[("id", "/id")])],
            &values,
        )
        .unwrap_err();
        assert!(error.to_string().contains("values name"), "{error}");
    }
}
