//! From the file as written ([`super::schema`]) to a checked [`Lab`]: every rule a lab must
//! keep, each broken one reported with the file, line and key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use toml::Spanned;

use super::error::Source;
use super::placeholders::{expand, first_unknown, names};
use super::schema::{LabFile, Scalar, ScenarioTable, SetupTable, TargetTable};
use super::{
    BodySource, DatabaseSpec, Lab, LabScenario, LabTarget, LoadOptions, PidSource, RequestSource,
    Role, SetupStep, Slo, TargetKind, builtin, rate,
};

/// Default closed-model connections of a scenario.
const DEFAULT_CONNECTIONS: usize = 64;
/// Default measured length of a scenario.
const DEFAULT_DURATION: Duration = Duration::from_secs(5);

/// What the checks need besides the file: the placeholders known at each point.
struct Checker<'a> {
    source: Source<'a>,
    /// Values known when the file is read: `{dir}`, `{cores}`, the vars.
    fixed: BTreeMap<String, String>,
    /// Names of every placeholder known to targets and scenarios (not `{port}`).
    known: BTreeSet<String>,
}

pub(super) fn lab(file: &Path, text: &str, options: &LoadOptions) -> Result<Lab> {
    let source = Source { file, text };
    let raw: LabFile = toml::from_str(text).map_err(|error| source.from_toml(&error))?;
    let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut checker = Checker {
        source,
        fixed: BTreeMap::from([
            (builtin::DIR.to_string(), dir.display().to_string()),
            (
                builtin::CORES.to_string(),
                crate::load::settings::default_threads().to_string(),
            ),
        ]),
        known: BTreeSet::new(),
    };
    let vars = checker.vars(&raw, options)?;
    let database = match &raw.database {
        Some(table) if table.kind.get_ref() == "embedded" => Some(DatabaseSpec {
            pgbench: table.pgbench,
        }),
        Some(table) => {
            return Err(checker
                .source
                .error(
                    table.kind.span(),
                    "database.kind",
                    format!(
                        "`{}` is not a database kind (the one kind is `embedded`)",
                        table.kind.get_ref()
                    ),
                )
                .into());
        }
        None => None,
    };
    checker.known.extend(
        [builtin::DIR, builtin::OUT, builtin::CORES]
            .into_iter()
            .map(String::from),
    );
    if database.is_some() {
        checker.known.insert(builtin::DATABASE_URL.into());
    }
    checker.known.extend(vars.keys().cloned());
    let setup = checker.setup(&raw.setup)?;
    let env = checker.env_map(&raw.env, "env", &checker.known.clone())?;
    let targets = checker.targets(&raw.target)?;
    let scenarios = checker.scenarios(&raw.scenario)?;
    let slo = checker.slo(&raw)?;
    Ok(Lab {
        name: raw.name,
        description: raw.description,
        file: file.to_path_buf(),
        dir,
        vars,
        env,
        database,
        slo,
        setup,
        targets,
        scenarios,
    })
}

fn is_name(name: &str) -> bool {
    !names(&format!("{{{name}}}")).is_empty()
}

impl Checker<'_> {
    fn fail(&self, span: std::ops::Range<usize>, key: &str, message: String) -> anyhow::Error {
        self.source.error(span, key, message).into()
    }

    /// `vars`, with `[quick.vars]` on top under `--quick` (except the ones `--set` gave).
    fn vars(&mut self, raw: &LabFile, options: &LoadOptions) -> Result<BTreeMap<String, String>> {
        let set_explicitly: BTreeSet<&str> = options
            .sets
            .iter()
            .filter_map(|set| set.split_once('=')?.0.trim().strip_prefix("vars."))
            .collect();
        let mut raw_vars: BTreeMap<&String, &Spanned<Scalar>> = raw.vars.iter().collect();
        if options.quick
            && let Some(quick) = &raw.quick
        {
            for (name, value) in &quick.vars {
                if !set_explicitly.contains(name.as_str()) {
                    raw_vars.insert(name, value);
                }
            }
        }
        let fixed_names: BTreeSet<String> = self.fixed.keys().cloned().collect();
        let mut vars = BTreeMap::new();
        for (name, value) in raw_vars {
            let key = format!("vars.{name}");
            let reserved = [
                builtin::DIR,
                builtin::OUT,
                builtin::CORES,
                builtin::DATABASE_URL,
                builtin::PORT,
            ];
            if !is_name(name) || reserved.contains(&name.as_str()) {
                return Err(self.fail(
                    value.span(),
                    &key,
                    format!(
                        "`{name}` cannot be a var name (a built-in placeholder, or not a name)"
                    ),
                ));
            }
            let text = value.get_ref().text();
            if let Some(unknown) = first_unknown(&text, &fixed_names) {
                return Err(self.fail(
                    value.span(),
                    &key,
                    format!(
                        "placeholder `{{{unknown}}}`: a var may use only {{dir}} and {{cores}}"
                    ),
                ));
            }
            vars.insert(name.clone(), expand(&text, &self.fixed));
        }
        self.fixed.extend(vars.clone());
        Ok(vars)
    }

    /// A template: placeholders checked against `known`, the fixed ones expanded.
    fn template(
        &self,
        value: &Spanned<String>,
        key: &str,
        known: &BTreeSet<String>,
    ) -> Result<String> {
        if let Some(unknown) = first_unknown(value.get_ref(), known) {
            let mut offered: Vec<&str> = known.iter().map(String::as_str).collect();
            offered.sort_unstable();
            return Err(self.fail(
                value.span(),
                key,
                format!(
                    "placeholder `{{{unknown}}}` is provided by nothing here (known: {})",
                    offered
                        .iter()
                        .map(|name| format!("{{{name}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(expand(value.get_ref(), &self.fixed))
    }

    fn env_map(
        &self,
        env: &BTreeMap<String, Spanned<String>>,
        prefix: &str,
        known: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>> {
        env.iter()
            .map(|(name, value)| {
                let value = self.template(value, &format!("{prefix}.{name}"), known)?;
                Ok((name.clone(), value))
            })
            .collect()
    }

    fn setup(&mut self, steps: &[SetupTable]) -> Result<Vec<SetupStep>> {
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let name = step.name.get_ref().clone();
            let key = |field: &str| format!("setup.{name}.{field}");
            if step.run.is_empty() {
                return Err(self.fail(
                    step.name.span(),
                    &key("run"),
                    "is empty: give the command's argv".into(),
                ));
            }
            let known = self.known.clone();
            let run = step
                .run
                .iter()
                .map(|arg| self.template(arg, &key("run"), &known))
                .collect::<Result<Vec<_>>>()?;
            let env = self.env_map(&step.env, &key("env"), &known)?;
            let cwd = step
                .cwd
                .as_ref()
                .map(|cwd| self.template(cwd, &key("cwd"), &known))
                .transpose()?;
            let output = match &step.output {
                Some(output) => {
                    let text = output.get_ref();
                    if !is_name(text) || self.known.contains(text) {
                        return Err(self.fail(
                            output.span(),
                            &key("output"),
                            format!("`{text}` is not a new placeholder name"),
                        ));
                    }
                    self.known.insert(text.clone());
                    Some(text.clone())
                }
                None => None,
            };
            out.push(SetupStep {
                name,
                run,
                env,
                cwd,
                output,
            });
        }
        Ok(out)
    }

    fn targets(&self, tables: &[TargetTable]) -> Result<Vec<LabTarget>> {
        if tables.is_empty() {
            return Err(self
                .source
                .whole(
                    "target",
                    "the lab has no [[target]]: give at least the baseline",
                )
                .into());
        }
        let mut known = self.known.clone();
        known.insert(builtin::PORT.into());
        let mut targets: Vec<LabTarget> = Vec::with_capacity(tables.len());
        for table in tables {
            let target = self.target(table, &known)?;
            if targets.iter().any(|other| other.name == target.name) {
                return Err(self.fail(
                    table.name.span(),
                    "target.name",
                    format!("a second target named `{}`", target.name),
                ));
            }
            if target.role == Role::Baseline
                && let Some(first) = targets.iter().find(|t| t.role == Role::Baseline)
            {
                return Err(self.fail(
                    table.role.span(),
                    &format!("target.{}.role", target.name),
                    format!(
                        "a second baseline (`{}` is the baseline already); a lab has exactly one",
                        first.name
                    ),
                ));
            }
            targets.push(target);
        }
        if !targets.iter().any(|target| target.role == Role::Baseline) {
            return Err(self.fail(
                tables[0].role.span(),
                &format!("target.{}.role", tables[0].name.get_ref()),
                "no target has role = \"baseline\"; a lab has exactly one".into(),
            ));
        }
        Ok(targets)
    }

    fn target(&self, table: &TargetTable, known: &BTreeSet<String>) -> Result<LabTarget> {
        let name = table.name.get_ref().clone();
        let key = |field: &str| format!("target.{name}.{field}");
        if !is_name(&name) {
            return Err(self.fail(
                table.name.span(),
                "target.name",
                format!("`{name}` is not a name (letters, digits, _ - .)"),
            ));
        }
        let role = match table.role.get_ref().as_str() {
            "baseline" => Role::Baseline,
            "candidate" => Role::Candidate,
            other => {
                return Err(self.fail(
                    table.role.span(),
                    &key("role"),
                    format!("`{other}` is not a role: `baseline` or `candidate`"),
                ));
            }
        };
        let kind = match (&table.start, &table.url) {
            (Some(_), Some(url)) => {
                return Err(self.fail(url.span(), &key("url"), "a target has `start` (ferry starts it) or `url` (it is already running), not both".into()));
            }
            (None, None) => {
                return Err(self.fail(table.name.span(), &key("start"), "the target has neither `start` (ferry starts it) nor `url` (it is already running)".into()));
            }
            (Some(start), None) => {
                if let Some(extra) = [&table.pid_file, &table.metrics]
                    .into_iter()
                    .flatten()
                    .next()
                {
                    return Err(self.fail(
                        extra.span(),
                        &name,
                        "pid_file and metrics go with `url`, not `start`".into(),
                    ));
                }
                if start.is_empty() {
                    return Err(self.fail(
                        table.name.span(),
                        &key("start"),
                        "is empty: give the server's argv".into(),
                    ));
                }
                TargetKind::Started {
                    start: start
                        .iter()
                        .map(|arg| self.template(arg, &key("start"), known))
                        .collect::<Result<_>>()?,
                    env: self.env_map(&table.env, &key("env"), known)?,
                    cwd: table
                        .cwd
                        .as_ref()
                        .map(|cwd| self.template(cwd, &key("cwd"), known))
                        .transpose()?,
                    ready: table
                        .ready
                        .as_ref()
                        .map(|ready| self.template(ready, &key("ready"), known))
                        .transpose()?
                        .unwrap_or_else(|| "/".into()),
                }
            }
            (None, Some(url)) => {
                let mut known = known.clone();
                known.remove(builtin::PORT);
                let url_text = self.template(url, &key("url"), &known)?;
                match (&table.pid, &table.pid_file, &table.metrics) {
                    (Some(pid), None, None) => TargetKind::Attached {
                        url: url_text,
                        pid: PidSource::Pid(*pid.get_ref()),
                    },
                    (None, Some(file), None) => TargetKind::Attached {
                        url: url_text,
                        pid: PidSource::File(self.template(file, &key("pid_file"), &known)?),
                    },
                    (None, None, Some(metrics)) => TargetKind::Remote {
                        machine: table.machine.clone().unwrap_or_else(|| host_of(&url_text)),
                        metrics: self.template(metrics, &key("metrics"), &known)?,
                        url: url_text,
                    },
                    (None, None, None) => {
                        return Err(self.fail(url.span(), &key("url"), "a running target needs `pid` or `pid_file` (on this machine) or `metrics` (on another) to be measured".into()));
                    }
                    _ => {
                        return Err(self.fail(
                            url.span(),
                            &key("url"),
                            "give one of `pid`, `pid_file` and `metrics`".into(),
                        ));
                    }
                }
            }
        };
        Ok(LabTarget { name, role, kind })
    }

    fn scenarios(&self, tables: &[ScenarioTable]) -> Result<Vec<LabScenario>> {
        if tables.is_empty() {
            return Err(self
                .source
                .whole("scenario", "the lab has no [[scenario]]")
                .into());
        }
        let mut scenarios: Vec<LabScenario> = Vec::with_capacity(tables.len());
        for table in tables {
            let scenario = self.scenario(table, &scenarios)?;
            if scenarios.iter().any(|other| other.name == scenario.name) {
                return Err(self.fail(
                    table.name.span(),
                    "scenario.name",
                    format!("a second scenario named `{}`", scenario.name),
                ));
            }
            scenarios.push(scenario);
        }
        Ok(scenarios)
    }

    fn scenario(&self, table: &ScenarioTable, earlier: &[LabScenario]) -> Result<LabScenario> {
        let name = table.name.get_ref().clone();
        let key = |field: &str| format!("scenario.{name}.{field}");
        let mut known = self.known.clone();
        known.extend(table.values.keys().cloned());
        known.insert(crate::load::template::UUID_PLACEHOLDER.into());
        let requests = match (&table.request, &table.requests) {
            (Some(request), None) => {
                let text = self.template(request, &key("request"), &known)?;
                match text.split_once(' ') {
                    Some((method, path)) if path.trim().starts_with('/') => RequestSource::One {
                        method: method.to_ascii_uppercase(),
                        path: path.trim().to_string(),
                    },
                    _ => {
                        return Err(self.fail(
                            request.span(),
                            &key("request"),
                            format!("`{text}` is not `METHOD /path`"),
                        ));
                    }
                }
            }
            (None, Some(file)) => RequestSource::File(self.path(file, &key("requests"), &known)?),
            _ => {
                return Err(self.fail(
                    table.name.span(),
                    &key("request"),
                    "give one of `request` (METHOD /path) and `requests` (a target file)".into(),
                ));
            }
        };
        let body = match (&table.body, &table.body_file) {
            (Some(_), Some(file)) => {
                return Err(self.fail(
                    file.span(),
                    &key("body_file"),
                    "`body` and `body_file` exclude each other".into(),
                ));
            }
            (Some(body), None) => Some(BodySource::Inline(self.template(
                body,
                &key("body"),
                &known,
            )?)),
            (None, Some(file)) => Some(BodySource::File(self.path(
                file,
                &key("body_file"),
                &known,
            )?)),
            (None, None) => None,
        };
        let values = table
            .values
            .iter()
            .map(|(value_name, path)| {
                Ok((
                    value_name.clone(),
                    self.path(path, &key(&format!("values.{value_name}")), &self.known)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let duration = match &table.duration {
            Some(text) => crate::units::parse_duration(text.get_ref())
                .map_err(|error| self.fail(text.span(), &key("duration"), format!("{error:#}")))?,
            None => DEFAULT_DURATION,
        };
        let connections = match &table.connections {
            Some(count) if *count.get_ref() == 0 => {
                return Err(self.fail(
                    count.span(),
                    &key("connections"),
                    "must be at least 1".into(),
                ));
            }
            Some(count) => *count.get_ref(),
            None => DEFAULT_CONNECTIONS,
        };
        let relative_to = match &table.relative_to {
            Some(reference) => {
                let found = earlier.iter().find(|s| s.name == *reference.get_ref());
                match found {
                    Some(found) if found.rate.is_none() => Some(found.name.clone()),
                    _ => {
                        return Err(self.fail(
                            reference.span(),
                            &key("relative_to"),
                            format!(
                                "`{}` is not an earlier closed-model scenario",
                                reference.get_ref()
                            ),
                        ));
                    }
                }
            }
            None => None,
        };
        let rate_text = match &table.rate {
            Some(text) => {
                let relative = rate::is_relative(text.get_ref());
                if relative && relative_to.is_none() {
                    return Err(self.fail(text.span(), &key("rate"), "a relative rate (N%) needs `relative_to`, the scenario whose throughput is 100%".into()));
                }
                rate::resolve(text.get_ref(), relative.then_some(1000.0), 1.0)
                    .map_err(|error| self.fail(text.span(), &key("rate"), format!("{error:#}")))?;
                Some(text.get_ref().clone())
            }
            None => None,
        };
        let headers = table
            .headers
            .iter()
            .map(|(header, value)| {
                Ok((
                    header.clone(),
                    self.template(value, &key(&format!("headers.{header}")), &known)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let title = table.title.clone().unwrap_or_else(|| match &requests {
            RequestSource::One { method, path } => format!("{method} {path}"),
            RequestSource::File(file) => format!("requests from {file}"),
        });
        Ok(LabScenario {
            name,
            title,
            requests,
            headers,
            body,
            values,
            connections,
            duration,
            rate: rate_text,
            relative_to,
            capacity: table.capacity,
        })
    }

    /// A file path template; when it holds no placeholder left for the run, the file must
    /// exist now. Relative paths are relative to the lab's folder.
    fn path(&self, value: &Spanned<String>, key: &str, known: &BTreeSet<String>) -> Result<String> {
        let text = self.template(value, key, known)?;
        let path = Path::new(&self.fixed[builtin::DIR]).join(&text);
        if names(&text).is_empty() && !path.exists() {
            return Err(self.fail(
                value.span(),
                key,
                format!("file {} does not exist", path.display()),
            ));
        }
        Ok(text)
    }

    fn slo(&self, raw: &LabFile) -> Result<Slo> {
        let mut slo = Slo::DEFAULT;
        let Some(table) = &raw.slo else {
            return Ok(slo);
        };
        if let Some(p99) = &table.p99 {
            slo.p99 = crate::units::parse_duration(p99.get_ref())
                .ok()
                .filter(|p99| !p99.is_zero())
                .ok_or_else(|| {
                    self.fail(
                        p99.span(),
                        "slo.p99",
                        format!("`{}` is not a positive duration (10ms)", p99.get_ref()),
                    )
                })?;
        }
        if let Some(errors) = &table.errors {
            let ratio = match errors.get_ref() {
                Scalar::Text(text) => text
                    .trim()
                    .strip_suffix('%')
                    .and_then(|percent| percent.trim().parse::<f64>().ok())
                    .map(|percent| percent / 100.0),
                Scalar::Float(ratio) => Some(*ratio),
                Scalar::Integer(ratio) => Some(*ratio as f64),
                Scalar::Boolean(_) => None,
            };
            slo.error_ratio = ratio
                .filter(|ratio| (0.0..=1.0).contains(ratio))
                .ok_or_else(|| {
                    self.fail(
                        errors.span(),
                        "slo.errors",
                        "is not a share of requests (\"0.1%\" or 0.001)".into(),
                    )
                })?;
        }
        Ok(slo)
    }
}

/// The host part of `url`, for the report's "runs on" line.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .to_string()
}
