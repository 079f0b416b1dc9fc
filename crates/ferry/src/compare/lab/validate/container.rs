//! `[target.container]`: a target ferry starts as a container of an image, under a CPU and
//! memory limit. It needs no `start` (the image's command runs; `start`, when given, is the
//! command after the image), and its `{cores}` is ⌈cpus⌉, in its own keys and in the lab's
//! `[env]` as it receives it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use toml::Spanned;

use super::super::placeholders::expand;
use super::super::schema::{ContainerTable, TargetTable};
use super::super::{ContainerSpec, LabTarget, TargetKind, builtin};
use super::Checker;
use crate::compare::container::parse_memory;

/// The smallest CPU limit an engine accepts.
const MIN_CPUS: f64 = 0.01;
/// The smallest memory limit podman and Docker accept: 6 MiB.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;

impl Checker<'_> {
    /// The kind of a target with `[target.container]`: started, as a container.
    pub(super) fn container_kind(
        &self,
        table: &TargetTable,
        container: &Spanned<ContainerTable>,
        name: &str,
        known: &BTreeSet<String>,
    ) -> Result<TargetKind> {
        let key = |field: &str| format!("target.{name}.{field}");
        if let Some(extra) = [&table.url, &table.pid_file, &table.metrics]
            .into_iter()
            .flatten()
            .next()
        {
            return Err(self.fail(
                extra.span(),
                &key("container"),
                "a container target is started by ferry: url, pid_file and metrics are for \
                 targets already running"
                    .into(),
            ));
        }
        if let Some(cwd) = &table.cwd {
            return Err(self.fail(
                cwd.span(),
                &key("cwd"),
                "a container target has no cwd: its folder is the image's".into(),
            ));
        }
        let spec = self.container_spec(container, name)?;
        let cores = spec.cores();
        let fill = |value: &Spanned<String>, field: &str| {
            self.template_cores(value, &key(field), known, cores)
        };
        Ok(TargetKind::Started {
            start: table
                .start
                .iter()
                .flatten()
                .map(|arg| fill(arg, "start"))
                .collect::<Result<_>>()?,
            env: table
                .env
                .iter()
                .map(|(env, value)| Ok((env.clone(), fill(value, &format!("env.{env}"))?)))
                .collect::<Result<_>>()?,
            cwd: None,
            ready: table
                .ready
                .as_ref()
                .map(|ready| fill(ready, "ready"))
                .transpose()?
                .unwrap_or_else(|| "/".into()),
            ready_timeout: self.ready_timeout(table, &key("ready_timeout"))?,
            container: Some(spec),
        })
    }

    fn container_spec(&self, table: &Spanned<ContainerTable>, name: &str) -> Result<ContainerSpec> {
        let key = |field: &str| format!("target.{name}.container.{field}");
        let container = table.get_ref();
        let image = container.image.get_ref().trim();
        if image.is_empty() || image.starts_with('-') {
            return Err(self.fail(
                container.image.span(),
                &key("image"),
                format!("`{image}` is not an image name (\"localhost/user-service:dev\")"),
            ));
        }
        let cpus = *container.cpus.get_ref();
        if !cpus.is_finite() || cpus < MIN_CPUS {
            return Err(self.fail(
                container.cpus.span(),
                &key("cpus"),
                format!("`{cpus}` is not a CPU limit: a number of CPUs of at least {MIN_CPUS}"),
            ));
        }
        let memory = container.memory.get_ref();
        let memory_bytes = parse_memory(memory)
            .filter(|bytes| *bytes >= MIN_MEMORY)
            .ok_or_else(|| {
                self.fail(
                    container.memory.span(),
                    &key("memory"),
                    format!(
                        "`{memory}` is not a memory limit of at least 6m: a number with k, m \
                         or g (\"2g\", \"512m\")"
                    ),
                )
            })?;
        // The engine's arguments are filled when the lab is read, so only the fixed
        // placeholders (vars, `{dir}`, …) and this container's `{cores}` may appear in them.
        let cores = cpus.ceil().max(1.0) as u32;
        let fixed_names: BTreeSet<String> = self
            .fixed
            .keys()
            .cloned()
            .chain([builtin::CORES.to_string()])
            .collect();
        let engine_args = container
            .engine_args
            .iter()
            .map(|arg| self.template_cores(arg, &key("engine_args"), &fixed_names, cores))
            .collect::<Result<_>>()?;
        Ok(ContainerSpec {
            image: image.to_string(),
            cpus,
            memory: memory.clone(),
            memory_bytes,
            engine_args,
            lab_env: Vec::new(),
        })
    }

    /// A template checked as any other, its `{cores}` filled with a container's `cores`.
    fn template_cores(
        &self,
        value: &Spanned<String>,
        key: &str,
        known: &BTreeSet<String>,
        cores: u32,
    ) -> Result<String> {
        self.template(value, key, known)?;
        let mut fixed = self.fixed.clone();
        fixed.insert(builtin::CORES.into(), cores.to_string());
        Ok(expand(value.get_ref(), &fixed))
    }

    /// The lab's `[env]` as each container target receives it: with its own `{cores}`.
    pub(super) fn container_env(
        &self,
        env: &BTreeMap<String, Spanned<String>>,
        targets: &mut [LabTarget],
    ) -> Result<()> {
        for target in targets {
            if let TargetKind::Started {
                container: Some(spec),
                ..
            } = &mut target.kind
            {
                let cores = spec.cores();
                spec.lab_env = env
                    .iter()
                    .map(|(name, value)| {
                        let key = format!("env.{name}");
                        Ok((
                            name.clone(),
                            self.template_cores(value, &key, &self.known, cores)?,
                        ))
                    })
                    .collect::<Result<_>>()?;
            }
        }
        Ok(())
    }
}
