//! Flows: a run whose unit is not one request but a chain of steps, each step's request
//! filled with values taken from the responses before it (create, then read what was
//! created; log in, then use the token).
//!
//! The steps are the run's targets, in order ([`super::LoadSettings::targets`]); a [`Flow`]
//! adds to each what only a step has: its think time and what it extracts. Each iteration
//! runs the steps in order on one connection; the first error ends the iteration, which then
//! counts as failed.

mod extract;
pub mod file;
pub(super) mod iteration;
pub mod record;
pub mod tally;

use std::time::Duration;

use anyhow::{Result, bail};

pub use extract::{ExtractError, extract};
pub use record::{FlowRecord, StepRecord};
pub use tally::FlowTally;

/// What a step adds to its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStep {
    /// Shown in reports: the step's `name`, or its request (`POST /api/articles`).
    pub name: String,
    /// A pause before the step's request.
    pub think: Duration,
    /// Placeholder name and RFC 6901 JSON Pointer into the response body.
    pub extract: Vec<(String, String)>,
}

/// The steps of a flow, beside the run's targets (one per step, in the same order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flow {
    pub steps: Vec<FlowStep>,
}

impl Flow {
    /// Every extracted name, in the order the steps define them: placeholder `i` of the
    /// extracted values is `names()[i]`.
    pub fn names(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|step| step.extract.iter().map(|(name, _)| name.clone()))
            .collect()
    }

    /// Checks the flow against its steps' request texts: each extracted name is defined
    /// once, is not a values name or `uuid`, has a pointer, and is used only by later steps.
    /// `texts[i]` are step `i`'s URL, header values and body; `values[i]` its values names.
    pub fn check(&self, texts: &[Vec<&str>], values: &[Vec<&str>]) -> Result<()> {
        if self.steps.is_empty() {
            bail!("a flow needs at least one step");
        }
        let names = self.names();
        for (index, step) in self.steps.iter().enumerate() {
            for (name, pointer) in &step.extract {
                if names.iter().filter(|other| *other == name).count() > 1 {
                    bail!("flow: `{name}` is extracted by more than one step");
                }
                if name == super::template::UUID_PLACEHOLDER
                    || values.iter().flatten().any(|value| value == name)
                {
                    bail!(
                        "flow: step `{}` extracts `{name}`, which is already a values name",
                        step.name
                    );
                }
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    bail!(
                        "flow: step `{}` extracts `{name}` at `{pointer}`, which is not a JSON \
                         Pointer (RFC 6901: empty, or starting with `/`, as in `/article/slug`)",
                        step.name
                    );
                }
                // A name used at or before the step that defines it would be sent as literal
                // text: refused.
                let placeholder = format!("{{{name}}}");
                if let Some(user) = texts[..=index]
                    .iter()
                    .position(|texts| texts.iter().any(|text| text.contains(&placeholder)))
                {
                    bail!(
                        "flow: step `{}` uses `{placeholder}` before step `{}` extracts it",
                        self.steps[user].name,
                        step.name
                    );
                }
            }
        }
        Ok(())
    }
}
