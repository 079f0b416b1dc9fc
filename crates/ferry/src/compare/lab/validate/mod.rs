//! From the file as written ([`super::schema`]) to a checked [`Lab`]: every rule a lab must
//! keep, each broken one reported with the file, line and key.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use toml::Spanned;

mod background;
mod container;
mod database;
mod flow;
mod scenarios;
mod targets;

use super::error::Source;
use super::placeholders::{expand, first_unknown, names};
use super::schema::{LabFile, Scalar, SetupTable};
use super::{Lab, LabTarget, LoadOptions, SetupStep, Slo, builtin};

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
    /// The databases `{database_url:NAME}` names, found as the templates are checked.
    databases: RefCell<BTreeSet<String>>,
    /// `after_start` outputs that only some targets provide, with who does and who does not:
    /// a scenario may not use them.
    partial: BTreeMap<String, String>,
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
        databases: RefCell::default(),
        partial: BTreeMap::new(),
    };
    let (vars, typed_vars) = checker.vars(&raw, options)?;
    let database = raw
        .database
        .as_ref()
        .map(|table| checker.database(table))
        .transpose()?;
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
    let background = checker.background(&raw.background)?;
    let env = checker.env_map(&raw.env, "env", &checker.known.clone())?;
    let mut targets = checker.targets(&raw.target)?;
    checker.container_env(&raw.env, &mut targets)?;
    checker.target_outputs(&targets);
    let scenarios = checker.scenarios(&raw.scenario)?;
    let slo = checker.slo(&raw)?;
    let secrets = checker.secrets(&raw, &vars, &setup, &targets)?;
    Ok(Lab {
        name: raw.name,
        description: raw.description,
        file: file.to_path_buf(),
        dir,
        vars,
        typed_vars,
        secrets,
        env,
        database,
        databases: checker.databases.take().into_iter().collect(),
        slo,
        setup,
        background,
        targets,
        scenarios,
    })
}

/// A name a var or a setup output may take (never one with a `:` argument).
fn is_name(name: &str) -> bool {
    !name.contains(':') && !names(&format!("{{{name}}}")).is_empty()
}

impl Checker<'_> {
    fn fail(&self, span: std::ops::Range<usize>, key: &str, message: String) -> anyhow::Error {
        self.source.error(span, key, message).into()
    }

    /// `vars`, with `[quick.vars]` on top under `--quick` (except the ones `--set` gave), as
    /// text (for placeholders) and with their written type (for reports).
    fn vars(
        &mut self,
        raw: &LabFile,
        options: &LoadOptions,
    ) -> Result<(
        BTreeMap<String, String>,
        BTreeMap<String, serde_json::Value>,
    )> {
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
        let mut typed = BTreeMap::new();
        for (name, value) in raw_vars {
            let key = format!("vars.{name}");
            let reserved = [
                builtin::DIR,
                builtin::OUT,
                builtin::CORES,
                builtin::DATABASE_URL,
                builtin::PORT,
                builtin::URL,
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
            let expanded = expand(&text, &self.fixed);
            let json = match value.get_ref() {
                Scalar::Text(_) => serde_json::Value::String(expanded.clone()),
                Scalar::Integer(number) => serde_json::Value::from(*number),
                Scalar::Float(number) => serde_json::Value::from(*number),
                Scalar::Boolean(flag) => serde_json::Value::Bool(*flag),
            };
            typed.insert(name.clone(), json);
            vars.insert(name.clone(), expanded);
        }
        self.fixed.extend(vars.clone());
        Ok((vars, typed))
    }

    /// `secrets`: names of vars, setup outputs and `after_start` outputs, each given once.
    fn secrets(
        &self,
        raw: &LabFile,
        vars: &BTreeMap<String, String>,
        setup: &[SetupStep],
        targets: &[LabTarget],
    ) -> Result<Vec<String>> {
        let mut secrets: Vec<String> = Vec::new();
        for name in &raw.secrets {
            let text = name.get_ref();
            let provided = vars.contains_key(text)
                || setup
                    .iter()
                    .chain(targets.iter().flat_map(|target| &target.after_start))
                    .any(|step| step.output.as_deref() == Some(text));
            if !provided {
                return Err(self.fail(
                    name.span(),
                    "secrets",
                    format!(
                        "`{text}` is neither a var nor the output of a setup or after_start step"
                    ),
                ));
            }
            if !secrets.contains(text) {
                secrets.push(text.clone());
            }
        }
        Ok(secrets)
    }

    /// A template: placeholders checked against `known`, the fixed ones expanded.
    fn template(
        &self,
        value: &Spanned<String>,
        key: &str,
        known: &BTreeSet<String>,
    ) -> Result<String> {
        let known = &self.with_databases(value, key, known)?;
        if let Some(unknown) = first_unknown(value.get_ref(), known) {
            if let Some(who) = self.partial.get(unknown) {
                return Err(self.fail(
                    value.span(),
                    key,
                    format!(
                        "placeholder `{{{unknown}}}` is an after_start output of some targets \
                         only ({who}): every target must provide it"
                    ),
                ));
            }
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
            let known = self.known.clone();
            let checked = self.step(step, &format!("setup.{name}"), &known)?;
            let output = match &step.output {
                Some(output) => {
                    let text = output.get_ref();
                    if !is_name(text) || self.known.contains(text) || text == builtin::URL {
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
            out.push(SetupStep { output, ..checked });
        }
        Ok(out)
    }

    /// A step's `run`, `env` and `cwd` checked against `known`, its `output` as written.
    fn step(&self, step: &SetupTable, prefix: &str, known: &BTreeSet<String>) -> Result<SetupStep> {
        let key = |field: &str| format!("{prefix}.{field}");
        if step.run.is_empty() {
            return Err(self.fail(
                step.name.span(),
                &key("run"),
                "is empty: give the command's argv".into(),
            ));
        }
        Ok(SetupStep {
            name: step.name.get_ref().clone(),
            run: step
                .run
                .iter()
                .map(|arg| self.template(arg, &key("run"), known))
                .collect::<Result<Vec<_>>>()?,
            env: self.env_map(&step.env, &key("env"), known)?,
            cwd: step
                .cwd
                .as_ref()
                .map(|cwd| self.template(cwd, &key("cwd"), known))
                .transpose()?,
            output: step.output.as_ref().map(|output| output.get_ref().clone()),
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
