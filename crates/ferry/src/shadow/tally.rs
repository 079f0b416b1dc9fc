//! Counting a run as it goes: per endpoint, how many requests, how many compared, and for
//! every field how often the candidate and the secondary differed from the primary, with a
//! few examples; per target, how many requests got no response and why. Endpoints not named
//! by a template are kept apart here and grouped when the report is written
//! ([`super::grouping`]), when every path seen can be counted.

use std::collections::BTreeMap;

use serde::Serialize;

use super::client::{Failure, Role};
use super::diff::{self, DiffKind};
use super::example::{EXAMPLES_PER_FIELD, Example};
use super::request::ShadowRequest;
use super::response::Captured;
use super::routes::EndpointName;

/// One target's answers to one request, or why there was none.
pub type Outcome = Result<Captured, Failure>;

/// The three targets' outcomes for one request.
pub struct Outcomes {
    pub primary: Outcome,
    pub secondary: Option<Outcome>,
    pub candidate: Outcome,
}

/// Requests sent to a target and those that got no response.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TargetErrors {
    pub requests: u64,
    pub errors: u64,
    pub connect: u64,
    pub timeout: u64,
    pub reset: u64,
}

impl TargetErrors {
    fn record(&mut self, outcome: &Outcome) {
        self.requests += 1;
        if let Err(failure) = outcome {
            self.errors += 1;
            match failure {
                Failure::Connect => self.connect += 1,
                Failure::Timeout => self.timeout += 1,
                Failure::Reset => self.reset += 1,
            }
        }
    }

    /// The share of requests without a response.
    pub fn rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// Counts of one field on one endpoint.
#[derive(Debug, Clone, Default)]
pub struct FieldTally {
    pub candidate: u64,
    pub secondary: u64,
    /// Kinds of the candidate's differences (or the secondary's when the candidate has none).
    pub kinds: BTreeMap<DiffKind, u64>,
    pub examples: Vec<Example>,
}

impl FieldTally {
    /// The most frequent kind.
    pub fn kind(&self) -> DiffKind {
        self.kinds
            .iter()
            .max_by_key(|(_, count)| **count)
            .map_or(DiffKind::Value, |(kind, _)| *kind)
    }
}

#[derive(Debug, Clone, Default)]
pub struct EndpointTally {
    /// Requests of this endpoint sent to the targets.
    pub requests: u64,
    /// Requests where every target answered, so they were compared.
    pub compared: u64,
    /// Requests where some target gave no response.
    pub errors: u64,
    pub fields: BTreeMap<String, FieldTally>,
    /// Named by a template (`--template` or the source's): final, never grouped further.
    pub templated: bool,
}

impl EndpointTally {
    /// Adds the counts of `other`, an endpoint grouped into this one.
    pub fn absorb(&mut self, other: &EndpointTally) {
        self.requests += other.requests;
        self.compared += other.compared;
        self.errors += other.errors;
        self.templated |= other.templated;
        for (field, theirs) in &other.fields {
            let ours = self.fields.entry(field.clone()).or_default();
            ours.candidate += theirs.candidate;
            ours.secondary += theirs.secondary;
            for (kind, count) in &theirs.kinds {
                *ours.kinds.entry(*kind).or_default() += count;
            }
            let room = EXAMPLES_PER_FIELD.saturating_sub(ours.examples.len());
            ours.examples
                .extend(theirs.examples.iter().take(room).cloned());
        }
    }
}

/// Everything a run counted.
#[derive(Debug, Clone, Default)]
pub struct ShadowTally {
    pub endpoints: BTreeMap<String, EndpointTally>,
    pub primary: TargetErrors,
    pub secondary: TargetErrors,
    pub candidate: TargetErrors,
}

impl ShadowTally {
    pub fn errors(&self, role: Role) -> &TargetErrors {
        match role {
            Role::Primary => &self.primary,
            Role::Secondary => &self.secondary,
            Role::Candidate => &self.candidate,
        }
    }

    /// Counts a proxied request that was answered (or not) by the primary alone.
    pub fn record_unmirrored(&mut self, primary: Outcome) {
        self.primary.record(&primary);
    }

    /// Counts one request's outcomes under `endpoint`.
    pub fn record(
        &mut self,
        endpoint: &EndpointName,
        request: &ShadowRequest,
        outcomes: &Outcomes,
    ) {
        self.primary.record(&outcomes.primary);
        if let Some(secondary) = &outcomes.secondary {
            self.secondary.record(secondary);
        }
        self.candidate.record(&outcomes.candidate);
        let tally = self.endpoints.entry(endpoint.name.clone()).or_default();
        tally.templated |= endpoint.templated;
        tally.requests += 1;
        let secondary = match &outcomes.secondary {
            None => None,
            Some(Ok(secondary)) => Some(secondary),
            Some(Err(_)) => {
                tally.errors += 1;
                return;
            }
        };
        let (Ok(primary), Ok(candidate)) = (&outcomes.primary, &outcomes.candidate) else {
            tally.errors += 1;
            return;
        };
        tally.compared += 1;
        let candidate_differences = diff::differences(primary, candidate);
        let secondary_differences =
            secondary.map(|secondary| diff::differences(primary, secondary));
        for (field, kind) in &candidate_differences {
            let field_tally = tally.fields.entry(field.clone()).or_default();
            field_tally.candidate += 1;
            *field_tally.kinds.entry(*kind).or_default() += 1;
            if field_tally.examples.len() < EXAMPLES_PER_FIELD {
                field_tally
                    .examples
                    .push(Example::new(request, primary, secondary, candidate));
            }
        }
        for (field, kind) in secondary_differences.iter().flatten() {
            let field_tally = tally.fields.entry(field.clone()).or_default();
            field_tally.secondary += 1;
            if field_tally.candidate == 0 {
                *field_tally.kinds.entry(*kind).or_default() += 1;
            }
        }
    }
}
