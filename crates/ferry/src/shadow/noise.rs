//! Telling regressions from noise. For each endpoint and field ferry counts how often the
//! candidate differs from the primary and how often the secondary — the same old service —
//! does. A field is a regression only when the candidate's rate clearly exceeds that noise:
//!
//! - a field the secondary never got wrong is deterministic in the old service, so any
//!   candidate difference is a regression;
//! - otherwise the two rates are compared with a one-sided two-proportion z-test (pooled
//!   variance) and the field is a regression when z > 3. At z = 3 a field that is only noise
//!   is flagged about once in 740 comparisons, so an API of a few dozen noisy fields gives a
//!   false alarm in well under one run in ten, while a real change seen in a few percent of
//!   a few hundred requests still stands out;
//! - `--ignore FIELD-GLOB` (and the default list, such as `header.date`) marks fields as noise
//!   whatever the rates.
//!
//! Without a secondary there is no noise rate: every difference outside the ignore list is a
//! regression, and the report says so.

use serde::Serialize;

/// The z-score above which a noisy field's candidate rate counts as a regression.
pub const Z_THRESHOLD: f64 = 3.0;

/// Fields that differ between any two healthy responses: framing and per-response ids and
/// times. `content-length` follows the body, which is compared itself.
pub const DEFAULT_IGNORED: &[&str] = &[
    "header.date",
    "header.x-request-id",
    "header.content-length",
    "header.transfer-encoding",
    "header.connection",
    "header.keep-alive",
    "header.age",
    "header.expires",
];

/// Why a field is noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseReason {
    /// The secondary differs from the primary as often as the candidate does.
    Secondary,
    /// `--ignore` or the default list.
    Ignored,
}

/// Counts of one field on one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct FieldRates {
    /// Requests where the candidate's field differed from the primary's.
    pub candidate: u64,
    /// Requests where the secondary's field differed from the primary's.
    pub secondary: u64,
    /// Requests compared on this endpoint.
    pub compared: u64,
}

/// The verdict on one field: a regression, or noise and why.
pub fn verdict(rates: FieldRates, has_secondary: bool, ignored: bool) -> Option<NoiseReason> {
    if ignored {
        return Some(NoiseReason::Ignored);
    }
    if rates.candidate == 0 || !has_secondary || rates.secondary == 0 {
        return (rates.candidate == 0).then_some(NoiseReason::Secondary);
    }
    (z_score(rates) <= Z_THRESHOLD).then_some(NoiseReason::Secondary)
}

/// One-sided two-proportion z-score of candidate over secondary, with pooled variance.
fn z_score(rates: FieldRates) -> f64 {
    let n = rates.compared.max(1) as f64;
    let candidate = rates.candidate as f64 / n;
    let secondary = rates.secondary as f64 / n;
    let pooled = (candidate + secondary) / 2.0;
    let spread = (pooled * (1.0 - pooled) * 2.0 / n).sqrt();
    if spread == 0.0 {
        // Both rates 0 or both 1: no difference between them.
        return 0.0;
    }
    (candidate - secondary) / spread
}

/// A field glob of `--ignore`: `*` matches any run of characters, everything else itself.
/// (Hand-written because field names hold `[]`, which glob crates read as a character class.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldGlob(String);

impl FieldGlob {
    pub fn new(pattern: &str) -> FieldGlob {
        FieldGlob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, field: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or("");
        let Some(mut rest) = field.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part) {
                Some(index) => rest = &rest[index + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

/// Whether any glob matches `field`.
pub fn is_ignored(globs: &[FieldGlob], field: &str) -> bool {
    globs.iter().any(|glob| glob.matches(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(candidate: u64, secondary: u64, compared: u64) -> FieldRates {
        FieldRates {
            candidate,
            secondary,
            compared,
        }
    }

    #[test]
    fn deterministic_fields_regress_on_any_difference() {
        assert_eq!(verdict(rates(1, 0, 1000), true, false), None);
        assert_eq!(
            verdict(rates(0, 0, 1000), true, false),
            Some(NoiseReason::Secondary)
        );
        assert_eq!(
            verdict(rates(5, 0, 10), true, true),
            Some(NoiseReason::Ignored)
        );
    }

    #[test]
    fn noisy_fields_regress_only_clearly_above_their_noise() {
        // A timestamp that differs every time on both sides.
        assert_eq!(
            verdict(rates(200, 200, 200), true, false),
            Some(NoiseReason::Secondary)
        );
        // A 1-second date that ticks over between the responses now and then.
        assert_eq!(
            verdict(rates(12, 9, 200), true, false),
            Some(NoiseReason::Secondary)
        );
        // Noise at 0.1 %, the candidate at 5 %.
        assert_eq!(verdict(rates(50, 1, 1000), true, false), None);
    }

    #[test]
    fn without_a_secondary_every_difference_regresses() {
        assert_eq!(verdict(rates(3, 0, 100), false, false), None);
    }

    #[test]
    fn globs_match_field_names_with_brackets() {
        assert!(FieldGlob::new("body.items[].created_at").matches("body.items[].created_at"));
        assert!(FieldGlob::new("body.*.created_at").matches("body.items[].created_at"));
        assert!(FieldGlob::new("header.x-*").matches("header.x-trace"));
        assert!(FieldGlob::new("*").matches("status"));
        assert!(!FieldGlob::new("header.x-*").matches("body.x"));
        assert!(!FieldGlob::new("body.a*a").matches("body.a"));
        assert!(!FieldGlob::new("body").matches("body.x"));
    }
}
