//! What the domain reports when input breaks its rules. It knows nothing of HTTP: the
//! routes map it to `kit::ApiError` (422 with `fields`, `routes::errors`).

use std::collections::BTreeMap;

/// Fields that break the rules, each with the reason (`"must be a valid email address"`),
/// in field-name order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fields: {}", self.names().join(", "))]
pub struct InvalidFields {
    pub fields: BTreeMap<&'static str, &'static str>,
}

impl InvalidFields {
    /// One invalid field.
    pub fn one(field: &'static str, reason: &'static str) -> Self {
        InvalidFields {
            fields: BTreeMap::from([(field, reason)]),
        }
    }

    /// The invalid fields' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.fields.keys().copied().collect()
    }
}
