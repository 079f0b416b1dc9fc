//! `ferry report`: tables and HTML from saved runs; `--merge` makes one run of several hosts'
//! shares, and `--slo` gates on the result.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use ferry::compare::gate::parse_threshold;
use ferry::report::{self, NamedRun, merge};

use super::slo_gate::{Objectives, check_slo, parse_objectives};

const REPORT_HELP: &str = "\
MERGING (--merge)
  The runs are shares of one load sent from several hosts (`ferry load --share I/N
  --start-at TIME --json partI.json`). --merge adds their histograms (corrected and service
  time) bucket by bucket, so the merged percentiles are exactly those of one histogram of all
  the requests; counts, errors by kind, late and dropped sends add up; the per-second
  timeline is aligned by each run's recorded wall-clock start. The result is an ordinary run
  (--json), which --slo can gate.
  Refused: runs of different targets or schedules, shares of different splits, the same
  share twice. Warned: missing shares, starts more than 100 ms apart.

BASELINE (--baseline FILE)
  Each run (or the merged run) against an earlier run of `ferry load --json`: its throughput
  and p99, each a regression when worse by more than --regression-threshold (10%), an
  improvement when better by as much. A run has no rounds, so the threshold alone is the
  bound. A run with more than 1% errors, or of the other model, is listed, not compared.

EXIT STATUS
  0 done (and every --slo bound held, no regression), 1 the runs could not be read or
  merged, 2 bad command line, 3 an --slo bound was breached (wins over 7), 7 --baseline found
  a regression.

EXAMPLES
  ferry report base.json new.json --html report.html
  ferry report --merge part1.json part2.json --json merged.json --slo 'p99<5ms,errors<0.1%'
  ferry report --baseline main.json change.json --regression-threshold 15%";

#[derive(Args)]
#[command(after_long_help = REPORT_HELP)]
pub struct ReportArgs {
    /// Result files written by `ferry load --json`; ratios are against the first.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Merge the runs (shares of one load from several hosts) into one run.
    #[arg(long)]
    merge: bool,
    /// Write the merged run as JSON (the run schema of `ferry load --json`).
    #[arg(long, value_name = "PATH", requires = "merge")]
    json: Option<PathBuf>,
    /// Fail (exit 3) unless every bound holds for the merged run (or for each run), as in
    /// `ferry load --slo`.
    #[arg(long, value_parser = parse_objectives)]
    slo: Option<Objectives>,
    /// Table format on stdout.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
    /// Also write a self-contained HTML report (charts as inline SVG, no network).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Title of the HTML report.
    #[arg(long, default_value = "ferry report")]
    title: String,
    /// An earlier run to gate against: each run's throughput and p99 (exit 7 on a regression).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// How much worse than the baseline a figure must be to be a regression: a percentage or
    /// a fraction.
    #[arg(long, default_value = "10%", value_parser = parse_threshold, requires = "baseline")]
    regression_threshold: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    Text,
    Markdown,
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let mut runs = args
        .runs
        .iter()
        .map(|path| NamedRun::from_json_file(path))
        .collect::<Result<Vec<_>>>()?;
    if args.merge {
        // Parts are told apart by the file they came from, as given.
        for (run, path) in runs.iter_mut().zip(&args.runs) {
            run.name = path.display().to_string();
        }
        let merged = merge::merge(&runs)?;
        for warning in &merged.warnings {
            eprintln!("ferry: warning: {warning}");
        }
        print!("{}", report::summary::render(&merged.result));
        if let Some(path) = &args.json {
            merged.result.write_json_file(path)?;
        }
        runs = vec![NamedRun {
            name: "merged".to_string(),
            result: merged.result,
        }];
    } else {
        let table = match args.format {
            TableFormat::Text => report::table::render_text(&runs),
            TableFormat::Markdown => report::table::render_markdown(&runs),
        };
        print!("{table}");
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report::html::render(&args.title, &runs))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let regressions = match &args.baseline {
        Some(file) => {
            let baseline = NamedRun::from_json_file(file)?;
            let gate = report::baseline::compare(&baseline, &runs, args.regression_threshold);
            print!(
                "{}",
                report::baseline::render(&gate, matches!(args.format, TableFormat::Markdown))
            );
            gate.regressions()
        }
        None => 0,
    };
    let bounds = args.slo.as_ref().map(|objectives| objectives.0.as_slice());
    let mut code = ExitCode::SUCCESS;
    for run in &runs {
        if bounds.is_some() && runs.len() > 1 {
            println!("\n{}:", run.name);
        }
        let verdict = check_slo(bounds, &run.result, false);
        if verdict != ExitCode::SUCCESS {
            code = verdict;
        }
    }
    if regressions > 0 && code == ExitCode::SUCCESS {
        code = ExitCode::from(EXIT_REGRESSION);
    }
    Ok(code)
}

/// `--baseline` found a regression.
const EXIT_REGRESSION: u8 = 7;
