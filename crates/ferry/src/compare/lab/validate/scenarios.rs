//! The `[[scenario]]` rules: one request source, files that exist, rates that parse.

use anyhow::Result;
use toml::Spanned;

use super::super::schema::ScenarioTable;
use super::super::{BodySource, LabScenario, RequestSource, rate};
use super::{Checker, DEFAULT_CONNECTIONS, DEFAULT_DURATION};
use crate::load::ValueOrder;

impl Checker<'_> {
    pub(super) fn scenarios(&self, tables: &[ScenarioTable]) -> Result<Vec<LabScenario>> {
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
            _ if !table.flow.is_empty() => self.flow(table, &known)?,
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
        let body = self.body(table, &name, &known)?;
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
        let (relative_to, rate_text) = self.open_model(table, earlier)?;
        let values_order = self.values_order(table, &key("values_order"))?;
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
            RequestSource::Flow(steps) => format!(
                "flow: {}",
                steps
                    .iter()
                    .map(|step| step.name.as_deref().unwrap_or(&step.request))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
        });
        let expect = self.expect(table.expect.as_ref(), &key("expect"))?;
        if let RequestSource::File(file) = &requests {
            self.requests_file_sends_to_the_target(file, table, &key("requests"))?;
        }
        Ok(LabScenario {
            name,
            title,
            requests,
            headers,
            body,
            values,
            values_order,
            connections,
            idle_connections: table.idle_connections.as_ref().map_or(0, |n| *n.get_ref()),
            duration,
            rate: rate_text,
            relative_to,
            capacity: table.capacity,
            expect,
        })
    }

    /// `values_order`: `random` or `round-robin`, which needs a values file to walk.
    fn values_order(&self, table: &ScenarioTable, key: &str) -> Result<ValueOrder> {
        let Some(order) = &table.values_order else {
            return Ok(ValueOrder::Random);
        };
        match order.get_ref().as_str() {
            "random" => Ok(ValueOrder::Random),
            "round-robin" if !table.values.is_empty() => Ok(ValueOrder::RoundRobin),
            "round-robin" => Err(self.fail(
                order.span(),
                key,
                "`round-robin` walks the values files, and the scenario has no `values`".into(),
            )),
            other => Err(self.fail(
                order.span(),
                key,
                format!("`{other}` is neither `random` nor `round-robin`"),
            )),
        }
    }

    /// `expect`: the statuses that are not errors, one or more of 100 to 599.
    pub(super) fn expect(
        &self,
        list: Option<&Spanned<Vec<u16>>>,
        key: &str,
    ) -> Result<Option<Vec<u16>>> {
        Ok(match list {
            Some(list) => {
                let statuses = list.get_ref();
                if statuses.is_empty() || statuses.iter().any(|s| !(100..=599).contains(s)) {
                    return Err(self.fail(
                        list.span(),
                        key,
                        "lists the statuses that are not errors: one or more of 100 to 599".into(),
                    ));
                }
                Some(statuses.clone())
            }
            None => None,
        })
    }

    /// `body` or `body_file`, not both.
    fn body(
        &self,
        table: &ScenarioTable,
        name: &str,
        known: &std::collections::BTreeSet<String>,
    ) -> Result<Option<BodySource>> {
        let key = |field: &str| format!("scenario.{name}.{field}");
        Ok(match (&table.body, &table.body_file) {
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
                known,
            )?)),
            (None, Some(file)) => Some(BodySource::File(self.path(
                file,
                &key("body_file"),
                known,
            )?)),
            (None, None) => None,
        })
    }

    /// A requests file that exists already (no placeholder left in its path) must name no
    /// absolute URL: in a lab every request goes to the target under measurement. A file a
    /// setup step writes is checked once setup has run (`compare::requests`).
    fn requests_file_sends_to_the_target(
        &self,
        file: &str,
        table: &ScenarioTable,
        key: &str,
    ) -> Result<()> {
        if !super::names(file).is_empty() {
            return Ok(());
        }
        let path = std::path::Path::new(&self.fixed[super::builtin::DIR]).join(file);
        let span = table
            .requests
            .as_ref()
            .map_or(table.name.span(), |r| r.span());
        let parsed = crate::load::target::read_target_file(&path)
            .map_err(|error| self.fail(span.clone(), key, format!("{error:#}")))?;
        crate::compare::requests::paths_only(&parsed, &path)
            .map_err(|error| self.fail(span, key, format!("{error:#}")))
    }

    /// `relative_to` and `rate`: an earlier closed-model scenario, and a schedule that parses
    /// (relative rates only with a `relative_to`).
    fn open_model(
        &self,
        table: &ScenarioTable,
        earlier: &[LabScenario],
    ) -> Result<(Option<String>, Option<String>)> {
        let name = table.name.get_ref();
        let key = |field: &str| format!("scenario.{name}.{field}");
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
        Ok((relative_to, rate_text))
    }
}
