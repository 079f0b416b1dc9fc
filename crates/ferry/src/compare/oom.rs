//! An OOM kill of a container target during a scenario's round: the scenario is invalid,
//! its reason names the OOM (and stays, whatever later rounds show), and the target is
//! started again for what follows. During a capacity probe: the probe fails and names the
//! OOM (`oom_kill`), and the target is started again for the next probe.

use anyhow::Result;

use super::phases::Run;

impl Run<'_> {
    /// After a round of `scenario` on target `index`: if its container was OOM-killed, marks
    /// the scenario invalid and starts the target again. Also keeps an earlier OOM's mark,
    /// which the error judgement of each round would otherwise clear.
    pub(super) fn after_round_oom(
        &mut self,
        index: usize,
        scenario: &str,
        earlier: Option<String>,
    ) -> Result<()> {
        let killed = self.live[index]
            .running
            .as_ref()
            .and_then(|running| running.oom_kill())
            .map(|kill| format!("invalid: {kill}"));
        let Some(reason) = killed.or(earlier) else {
            return Ok(());
        };
        if let Some(entry) = self.report.targets[index]
            .scenarios
            .iter_mut()
            .find(|entry| entry.scenario == scenario)
        {
            entry.valid = false;
            entry.invalid_reason = Some(reason.clone());
        }
        let fresh = self.live[index]
            .running
            .as_ref()
            .and_then(|running| running.oom_kill());
        if fresh.is_some() {
            self.progress.note(format!(
                "{scenario} on {}: {reason}; starting it again",
                self.live[index].name
            ));
            if let Some(old) = self.live[index].running.take() {
                old.kill();
            }
            self.restart(index)?;
        }
        Ok(())
    }
}

impl Run<'_> {
    /// After a capacity probe at `rate` on target `index`: if its container was OOM-killed,
    /// starts it again, so that the probes after it measure a running target, and returns
    /// the OOM's description (the killed probe fails on it).
    pub(super) fn after_probe_oom(
        &mut self,
        index: usize,
        scenario: &str,
        rate: f64,
    ) -> Result<Option<String>> {
        let Some(reason) = self.live[index]
            .running
            .as_ref()
            .and_then(|running| running.oom_kill())
        else {
            return Ok(None);
        };
        self.progress.note(format!(
            "capacity of {scenario} on {}: {reason} at {rate:.0}/s; starting it again",
            self.live[index].name
        ));
        if let Some(old) = self.live[index].running.take() {
            old.kill();
        }
        self.restart(index)?;
        Ok(Some(reason))
    }
}

/// The OOM mark of a scenario entry, if its invalid reason is one.
pub(super) fn oom_mark(reason: Option<&String>) -> Option<String> {
    reason.filter(|reason| reason.contains("OOM kill")).cloned()
}
