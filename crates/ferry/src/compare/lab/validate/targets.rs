//! The `[[target]]` rules: names, exactly one baseline, how each is reached, and its
//! `[target.headers]` and `[[target.after_start]]` steps, whose outputs are its own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use toml::Spanned;

use crate::load::TlsOptions;
use crate::load::tls::{read_certificates, read_private_key};

use super::super::schema::{SetupTable, TargetTable, TlsTable};
use super::super::{LabTarget, PidSource, Role, SetupStep, TargetKind, builtin};
use super::{Checker, host_of, is_name};

/// How long a started target may take to answer `ready` when its lab does not say.
const DEFAULT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Checker<'_> {
    pub(super) fn targets(&self, tables: &[TargetTable]) -> Result<Vec<LabTarget>> {
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
        let kind = self.kind(table, &name, known)?;
        let tls = table
            .tls
            .as_ref()
            .map(|tls| self.tls(tls, &name))
            .transpose()?;
        if let (Some(tls), TargetKind::Attached { url, .. } | TargetKind::Remote { url, .. }) =
            (&table.tls, &kind)
            && !url.starts_with("https://")
        {
            return Err(self.fail(
                tls.span(),
                &key("tls"),
                format!("is for https:// targets, and this one's url is `{url}`"),
            ));
        }
        let after_start = self.after_start(&table.after_start, &name, known)?;
        // A target's headers may use its own outputs (`authorization = "Token {token}"`).
        let mut header_known = self.known.clone();
        header_known.extend(after_start.iter().filter_map(|step| step.output.clone()));
        let headers = table
            .headers
            .iter()
            .map(|(header, value)| {
                let key = key(&format!("headers.{header}"));
                Ok((header.clone(), self.template(value, &key, &header_known)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LabTarget {
            name,
            role,
            kind,
            tls,
            headers,
            after_start,
        })
    }

    /// How ferry reaches the target: started (`start`), or already running (`url` with `pid`,
    /// `pid_file` or `metrics`).
    fn kind(
        &self,
        table: &TargetTable,
        name: &str,
        known: &BTreeSet<String>,
    ) -> Result<TargetKind> {
        let key = |field: &str| format!("target.{name}.{field}");
        if let Some(container) = &table.container {
            return self.container_kind(table, container, name, known);
        }
        Ok(match (&table.start, &table.url) {
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
                        name,
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
                    ready_timeout: self.ready_timeout(table, &key("ready_timeout"))?,
                    container: None,
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
        })
    }

    /// A started target's `ready_timeout`, or the default.
    pub(super) fn ready_timeout(
        &self,
        table: &TargetTable,
        key: &str,
    ) -> Result<std::time::Duration> {
        let Some(text) = &table.ready_timeout else {
            return Ok(DEFAULT_READY_TIMEOUT);
        };
        crate::units::parse_duration(text.get_ref())
            .ok()
            .filter(|timeout| !timeout.is_zero())
            .ok_or_else(|| {
                self.fail(
                    text.span(),
                    key,
                    format!("`{}` is not a positive duration (\"60s\")", text.get_ref()),
                )
            })
    }

    /// The `after_start` outputs every target provides become placeholders of the scenarios;
    /// those only some provide are remembered, so that a scenario using one is told why.
    pub(super) fn target_outputs(&mut self, targets: &[LabTarget]) {
        let provides = |target: &LabTarget, name: &str| {
            target
                .after_start
                .iter()
                .any(|step| step.output.as_deref() == Some(name))
        };
        let all: BTreeSet<&String> = targets
            .iter()
            .flat_map(|target| target.after_start.iter().filter_map(|s| s.output.as_ref()))
            .collect();
        for name in all {
            let (with, without): (Vec<&LabTarget>, Vec<&LabTarget>) =
                targets.iter().partition(|target| provides(target, name));
            if without.is_empty() {
                self.known.insert(name.clone());
            } else {
                let names = |list: &[&LabTarget]| {
                    list.iter()
                        .map(|target| target.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                self.partial.insert(
                    name.clone(),
                    format!("{} provide it, {} not", names(&with), names(&without)),
                );
            }
        }
    }

    /// `[[target.after_start]]`: each step may use what setup knows, `{url}`, `{port}` and
    /// the outputs of the target's steps before it; an output is a new name.
    fn after_start(
        &self,
        steps: &[SetupTable],
        target: &str,
        known: &BTreeSet<String>,
    ) -> Result<Vec<SetupStep>> {
        let mut known = known.clone();
        known.extend([builtin::PORT.to_string(), builtin::URL.to_string()]);
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let prefix = format!("target.{target}.after_start.{}", step.name.get_ref());
            let checked = self.step(step, &prefix, &known)?;
            if let Some(output) = &step.output {
                let text = output.get_ref();
                if !is_name(text) || known.contains(text) {
                    return Err(self.fail(
                        output.span(),
                        &format!("{prefix}.output"),
                        format!("`{text}` is not a new placeholder name"),
                    ));
                }
                known.insert(text.clone());
            }
            out.push(checked);
        }
        Ok(out)
    }

    /// `[target.tls]`: its files are read now, as a handshake would read them (each PEM, the
    /// CA certificates usable, the client certificate matching its key), so that a bad one
    /// stops the lab before anything starts, `--plan` included.
    fn tls(&self, table: &Spanned<TlsTable>, name: &str) -> Result<TlsOptions> {
        let key = |field: &str| format!("target.{name}.tls.{field}");
        // Only what is known now: the files must be there to be checked.
        let known: BTreeSet<String> = self.fixed.keys().cloned().collect();
        let file = |value: Option<&Spanned<String>>, field: &str| -> Result<Option<PathBuf>> {
            value
                .map(|value| {
                    let text = self.template(value, &key(field), &known)?;
                    Ok(Path::new(&self.fixed[builtin::DIR]).join(text))
                })
                .transpose()
        };
        let tls = table.get_ref();
        let options = TlsOptions {
            cacert: file(tls.cacert.as_ref(), "cacert")?,
            insecure: tls.insecure,
            cert: file(tls.cert.as_ref(), "cert")?,
            key: file(tls.key.as_ref(), "key")?,
            handshake_per_request: false,
        };
        let fail = |value: &Spanned<String>, field: &str, error: anyhow::Error| {
            self.fail(value.span(), &key(field), format!("{error:#}"))
        };
        if let Some((value, path)) = tls.cacert.as_ref().zip(options.cacert.as_ref()) {
            let alone = TlsOptions {
                cacert: Some(path.clone()),
                ..TlsOptions::default()
            };
            alone
                .check()
                .map_err(|error| fail(value, "cacert", error))?;
        }
        let cert = tls.cert.as_ref().zip(options.cert.as_ref());
        let private_key = tls.key.as_ref().zip(options.key.as_ref());
        match (cert, private_key) {
            (Some((cert_value, cert_path)), Some((key_value, key_path))) => {
                read_certificates(cert_path).map_err(|error| fail(cert_value, "cert", error))?;
                read_private_key(key_path).map_err(|error| fail(key_value, "key", error))?;
                let pair = TlsOptions {
                    cert: Some(cert_path.clone()),
                    key: Some(key_path.clone()),
                    ..TlsOptions::default()
                };
                pair.check()
                    .map_err(|error| fail(cert_value, "cert", error))?;
            }
            (Some((value, _)), None) => {
                let error = anyhow::anyhow!("a client certificate needs its `key`");
                return Err(fail(value, "cert", error));
            }
            (None, Some((value, _))) => {
                let error = anyhow::anyhow!("a client key needs its certificate, `cert`");
                return Err(fail(value, "key", error));
            }
            (None, None) => {}
        }
        Ok(options)
    }
}
