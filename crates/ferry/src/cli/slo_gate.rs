//! The `--slo` gate shared by the subcommands that end in a verdict.

use std::process::ExitCode;

use anyhow::Result;

use ferry::load::RunResult;
use ferry::slo;

/// Exit status when a `--slo` bound is breached.
const EXIT_SLO_BREACHED: u8 = 3;

/// The bounds of one `--slo` flag.
#[derive(Clone)]
pub struct Objectives(pub Vec<slo::Bound>);

pub fn parse_objectives(text: &str) -> Result<Objectives> {
    slo::parse(text).map(Objectives)
}

pub fn check_slo(bounds: Option<&[slo::Bound]>, result: &RunResult, quiet: bool) -> ExitCode {
    let Some(bounds) = bounds else {
        return ExitCode::SUCCESS;
    };
    let outcomes = slo::evaluate(bounds, result);
    let breached: Vec<_> = outcomes.iter().filter(|outcome| !outcome.passed).collect();
    if !quiet || !breached.is_empty() {
        println!();
        for outcome in &outcomes {
            println!(
                "  SLO {:<6} {} (measured {})",
                if outcome.passed { "ok" } else { "BREACH" },
                outcome.bound,
                outcome.actual
            );
        }
    }
    if breached.is_empty() {
        ExitCode::SUCCESS
    } else {
        let names: Vec<&str> = breached
            .iter()
            .map(|outcome| outcome.bound.as_str())
            .collect();
        eprintln!("ferry: SLO breached: {}", names.join(", "));
        ExitCode::from(EXIT_SLO_BREACHED)
    }
}
