//! The `[[background]]` rules: the keys of a setup step, without `output` (a process that
//! runs beside the measurements has no result to hand on), each name given once.

use anyhow::Result;

use super::super::SetupStep;
use super::super::schema::SetupTable;
use super::Checker;

impl Checker<'_> {
    pub(super) fn background(&self, tables: &[SetupTable]) -> Result<Vec<SetupStep>> {
        let mut steps: Vec<SetupStep> = Vec::with_capacity(tables.len());
        for table in tables {
            let name = table.name.get_ref();
            let prefix = format!("background.{name}");
            if let Some(output) = &table.output {
                return Err(self.fail(
                    output.span(),
                    &format!("{prefix}.output"),
                    "a background process hands on no output: it runs until the run ends".into(),
                ));
            }
            if steps.iter().any(|step| &step.name == name) {
                return Err(self.fail(
                    table.name.span(),
                    &format!("{prefix}.name"),
                    format!("a second background process named `{name}`"),
                ));
            }
            steps.push(self.step(table, &prefix, &self.known)?);
        }
        Ok(steps)
    }
}
