//! `ferry report`: tables and HTML from saved runs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use ferry::report::{self, NamedRun};

#[derive(Args)]
pub struct ReportArgs {
    /// Result files written by `ferry load --json`; ratios are against the first.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Table format on stdout.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    format: TableFormat,
    /// Also write a self-contained HTML report (charts as inline SVG, no network).
    #[arg(long, value_name = "PATH")]
    html: Option<PathBuf>,
    /// Title of the HTML report.
    #[arg(long, default_value = "ferry report")]
    title: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    Text,
    Markdown,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let runs = args
        .runs
        .iter()
        .map(|path| NamedRun::from_json_file(path))
        .collect::<Result<Vec<_>>>()?;
    let table = match args.format {
        TableFormat::Text => report::table::render_text(&runs),
        TableFormat::Markdown => report::table::render_markdown(&runs),
    };
    print!("{table}");
    if let Some(path) = &args.html {
        std::fs::write(path, report::html::render(&args.title, &runs))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
