//! Rendering run results: the human summary, comparison tables and the HTML report.

pub mod bar_chart;
pub mod baseline;
pub mod csv;
pub mod html;
pub mod merge;
pub mod summary;
pub mod svg;
pub mod table;

use std::path::Path;

use anyhow::Result;

use crate::load::RunResult;

/// A run with the name it goes by in tables and legends.
#[derive(Debug, Clone)]
pub struct NamedRun {
    pub name: String,
    pub result: RunResult,
}

impl NamedRun {
    /// Reads a `--json` file; the run is named after the file's stem.
    pub fn from_json_file(path: &Path) -> Result<NamedRun> {
        let result = RunResult::from_json_file(path)?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        );
        Ok(NamedRun { name, result })
    }
}
