//! Command-line interface: `ferry candidates`, `ferry compare`, `ferry cost`, `ferry load`, `ferry report`, `ferry serve-plaintext`.

mod candidates;
mod compare;
mod cost;
mod load;
mod report;
mod serve;
mod shadow;
mod slo_gate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "The migration lab: rank candidates, load and compare services, shadow their answers, price the difference",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rank services and routes from a Prometheus server by CPU, latency and workload class.
    Candidates(Box<candidates::CandidatesArgs>),
    /// Run a lab: any number of targets under identical load, one at a time: cold start, CPU
    /// and memory, capacity at an SLO, instances; a matrix with a verdict, JSON and HTML.
    Compare(Box<compare::CompareArgs>),
    /// Instances and money from a compare.json: containers and functions, from a price file.
    Cost(Box<cost::CostArgs>),
    /// Put load on an HTTP server and measure it.
    Load(Box<load::LoadArgs>),
    /// Compare runs saved with `ferry load --json`: tables and a self-contained HTML report.
    Report(report::ReportArgs),
    /// Serve `Hello, World!` over keep-alive HTTP/1.1: a calibration target for ferry itself.
    ServePlaintext(serve::ServeArgs),
    /// Replay requests (or proxy live traffic) to a primary, a secondary and a candidate, and
    /// report the candidate's real differences, with noise learned from primary vs secondary.
    Shadow(Box<shadow::ShadowArgs>),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Candidates(args) => candidates::candidates(*args),
        Command::Compare(args) => compare::compare(*args),
        Command::Cost(args) => cost::cost(*args),
        Command::Load(args) => load::load(*args),
        Command::Report(args) => report::report(args),
        Command::ServePlaintext(args) => serve::serve(args),
        Command::Shadow(args) => shadow::shadow(*args),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ferry: {error:#}");
            ExitCode::FAILURE
        }
    }
}
