//! A target's `[[target.after_start]]` steps: run once it answers `ready` (after its cold
//! starts, never inside one), again after every restart ferry makes for measurement, and
//! once for an attached or remote target. They log in through the target's own API, so
//! their outputs (a token) belong to that target alone and fill its placeholders.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::lab::builtin;
use super::lab::placeholders::expand;
use super::phases::Run;
use super::setup;

impl Run<'_> {
    /// Runs target `index`'s steps against it as it answers now, and keeps their outputs and
    /// its `[target.headers]` (filled in with them) on its [`super::live::LiveTarget`].
    pub(super) fn after_start(&mut self, index: usize) -> Result<()> {
        let lab = self.lab;
        let target = &lab.targets[index];
        let url = self.live[index].base_url.trim_end_matches('/').to_string();
        let mut values = self.values.clone();
        values.insert(builtin::PORT.into(), port_of(&url));
        values.insert(builtin::URL.into(), url);
        let log = self.logs.join(format!("{}.after_start.log", target.name));
        let mut outputs = BTreeMap::new();
        for step in &target.after_start {
            self.progress
                .phase(format!("{}: after_start {}…", target.name, step.name));
            let stdout = setup::run_step(lab, step, &values, &log, &self.mask)
                .with_context(|| format!("target {}: [[target.after_start]]", target.name))?;
            if let Some(output) = &step.output {
                let value = stdout.trim().to_string();
                values.insert(output.clone(), value.clone());
                outputs.insert(output.clone(), value);
            }
            self.check()?;
        }
        let live = &mut self.live[index];
        live.headers = target
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), expand(value, &values)))
            .collect();
        live.outputs = outputs;
        Ok(())
    }
}

/// The port of `url`: the one it names, or its scheme's (443 for `https`, else 80).
fn port_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            port.to_string()
        }
        _ if scheme.eq_ignore_ascii_case("https") => "443".into(),
        _ => "80".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::port_of;

    #[test]
    fn the_port_is_the_urls_or_its_schemes() {
        assert_eq!(port_of("http://127.0.0.1:8080"), "8080");
        assert_eq!(port_of("https://127.0.0.1:8443/api"), "8443");
        assert_eq!(port_of("https://staging.example"), "443");
        assert_eq!(port_of("http://[::1]:9000"), "9000");
        assert_eq!(port_of("http://[::1]"), "80");
    }
}
