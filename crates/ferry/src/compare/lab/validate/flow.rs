//! The `[[scenario.flow]]` rules: steps of `METHOD /path`, names extracted once and used
//! only after, pointers that are JSON Pointers, think times that parse.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;

use super::super::RequestSource;
use super::super::placeholders::names;
use super::super::schema::{FlowStepTable, ScenarioTable};
use super::Checker;
use crate::load::flow::file::StepSpec;

impl Checker<'_> {
    /// The steps of `table`'s flow; `known` are the placeholders every step may use.
    pub(super) fn flow(
        &self,
        table: &ScenarioTable,
        known: &BTreeSet<String>,
    ) -> Result<RequestSource> {
        let name = table.name.get_ref();
        let key = |index: usize, field: &str| format!("scenario.{name}.flow.{index}.{field}");
        if table.request.is_some()
            || table.requests.is_some()
            || table.body.is_some()
            || table.body_file.is_some()
        {
            return Err(self.fail(
                table.name.span(),
                &format!("scenario.{name}.flow"),
                "a flow's steps carry their own requests and bodies: give `[[scenario.flow]]` \
                 without `request`, `requests`, `body` or `body_file`"
                    .into(),
            ));
        }
        let extracted: Vec<(&String, usize)> = table
            .flow
            .iter()
            .enumerate()
            .flat_map(|(index, step)| step.extract.keys().map(move |name| (name, index)))
            .collect();
        let mut available = known.clone();
        let mut steps = Vec::with_capacity(table.flow.len());
        for (index, step) in table.flow.iter().enumerate() {
            self.used_after_extraction(step, index, &extracted, &key(index, "request"))?;
            steps.push(self.flow_step(step, &available, |field| key(index, field))?);
            for (extracted_name, pointer) in &step.extract {
                let at = key(index, &format!("extract.{extracted_name}"));
                if known.contains(extracted_name)
                    || extracted
                        .iter()
                        .filter(|(n, _)| *n == extracted_name)
                        .count()
                        > 1
                {
                    return Err(self.fail(
                        pointer.span(),
                        &at,
                        format!(
                            "`{extracted_name}` is already a placeholder here (a var, an \
                             output, a values name or another step's extract): give the \
                             extracted value a name of its own"
                        ),
                    ));
                }
                let text = pointer.get_ref();
                if !(text.is_empty() || text.starts_with('/')) {
                    return Err(self.fail(
                        pointer.span(),
                        &at,
                        format!(
                            "`{text}` is not a JSON Pointer (RFC 6901: empty, or starting \
                             with `/`, as in `/article/slug`)"
                        ),
                    ));
                }
                available.insert(extracted_name.clone());
            }
        }
        Ok(RequestSource::Flow(steps))
    }

    /// Refuses a step that uses a name its own or a later step extracts: it would be sent
    /// as literal text.
    fn used_after_extraction(
        &self,
        step: &FlowStepTable,
        index: usize,
        extracted: &[(&String, usize)],
        key: &str,
    ) -> Result<()> {
        let mut texts = vec![&step.request];
        texts.extend(step.headers.values());
        texts.extend(step.body.as_ref());
        for text in texts {
            for used in names(text.get_ref()) {
                if let Some((_, by)) = extracted
                    .iter()
                    .find(|(name, by)| name.as_str() == used && *by >= index)
                {
                    return Err(self.fail(
                        text.span(),
                        key,
                        format!(
                            "`{{{used}}}` is extracted by step {} of the flow: only the steps \
                             after it can use it",
                            by + 1
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn flow_step(
        &self,
        step: &FlowStepTable,
        known: &BTreeSet<String>,
        key: impl Fn(&str) -> String,
    ) -> Result<StepSpec> {
        let request = self.template(&step.request, &key("request"), known)?;
        match request.split_once(' ') {
            Some((_, path)) if path.trim().starts_with('/') => {}
            _ => {
                return Err(self.fail(
                    step.request.span(),
                    &key("request"),
                    format!("`{request}` is not `METHOD /path`"),
                ));
            }
        }
        let headers = step
            .headers
            .iter()
            .map(|(header, value)| {
                Ok((
                    header.clone(),
                    self.template(value, &key(&format!("headers.{header}")), known)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let body = step
            .body
            .as_ref()
            .map(|body| self.template(body, &key("body"), known))
            .transpose()?;
        let think = match &step.think {
            Some(text) => crate::units::parse_duration(text.get_ref())
                .map_err(|error| self.fail(text.span(), &key("think"), format!("{error:#}")))?,
            None => Duration::ZERO,
        };
        Ok(StepSpec {
            name: step.name.as_ref().map(|name| name.get_ref().clone()),
            request,
            headers,
            body,
            extract: step
                .extract
                .iter()
                .map(|(name, pointer)| (name.clone(), pointer.get_ref().clone()))
                .collect(),
            think,
            expect: self.expect(step.expect.as_ref(), &key("expect"))?,
        })
    }
}
