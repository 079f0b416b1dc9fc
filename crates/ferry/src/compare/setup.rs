//! The lab's setup steps: commands run once, in order, before any target starts (migrate,
//! seed, mint a token, write a request body). Each sees the lab's environment and the
//! placeholders known so far; a step with `output` adds its trimmed standard output as a
//! placeholder for the steps, targets and scenarios after it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::lab::placeholders::{expand, names};
use super::lab::{Lab, SetupStep};
use super::secrets::Mask;

/// The lab's environment with `values` filled in; a variable whose value still names a
/// placeholder nobody has provided yet (a later step's output) is left out.
pub fn environment(
    env: &[(String, String)],
    values: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    env.iter()
        .map(|(name, value)| (name.clone(), expand(value, values)))
        .filter(|(_, value)| names(value).is_empty())
        .collect()
}

/// The command of a setup or background step, not yet started: its `run` with `values` filled
/// in, from the lab's folder (or its `cwd`), with the lab's environment plus its own, and no
/// standard input; beside it the expanded argv (never empty), for logs and errors.
pub fn step_command(
    lab: &Lab,
    step: &SetupStep,
    values: &BTreeMap<String, String>,
) -> Result<(Command, Vec<String>)> {
    let argv: Vec<String> = step.run.iter().map(|arg| expand(arg, values)).collect();
    let (program, args) = argv.split_first().with_context(|| {
        format!(
            "step `{}`: `run` is never empty (checked when the lab is read)",
            step.name
        )
    })?;
    let cwd = step
        .cwd
        .as_ref()
        .map_or_else(|| lab.dir.clone(), |cwd| lab.dir.join(expand(cwd, values)));
    let mut env = environment(&lab.env, values);
    env.extend(
        step.env
            .iter()
            .map(|(name, value)| (name.clone(), expand(value, values))),
    );
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(&cwd)
        .envs(env)
        .stdin(Stdio::null());
    Ok((command, argv))
}

/// Runs `step` from the lab's folder; its output goes to `log`, and it returns its stdout.
pub fn run_step(
    lab: &Lab,
    step: &SetupStep,
    values: &BTreeMap<String, String>,
    log: &Path,
    mask: &Mask,
) -> Result<String> {
    let (mut command, argv) = step_command(lab, step, values)?;
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("setup step `{}`: running {program}", step.name))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // A secret output is masked from its own step's log too (a tool that echoes what it made).
    if step
        .output
        .as_ref()
        .is_some_and(|name| lab.secrets.contains(name))
    {
        mask.add(stdout.trim());
    }
    if let Ok(mut file) = std::fs::File::options().create(true).append(true).open(log) {
        let _ = writeln!(file, "$ {}", mask.apply(&argv.join(" ")));
        let _ = file.write_all(
            mask.apply(&String::from_utf8_lossy(&output.stderr))
                .as_bytes(),
        );
    }
    if !output.status.success() {
        bail!(
            "setup step `{}` failed ({}): {}\n{}",
            step.name,
            output.status,
            argv.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(stdout)
}
