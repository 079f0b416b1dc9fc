//! The lab file: a good one is read whole, and every bad one stops before anything starts,
//! with the file, line and key of the problem.

use std::path::PathBuf;

use ferry::compare::lab::{
    self, LabError, LoadOptions, PidSource, RequestSource, Role, TargetKind,
};

/// A fresh folder with `lab.toml` holding `text`, and `data.json` beside it.
fn write_lab(test: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-lab-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data.json"), "{}").unwrap();
    let path = dir.join("lab.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The lab error of a bad file.
fn bad(test: &str, text: &str) -> LabError {
    let path = write_lab(test, text);
    let error = lab::load(&path, &LoadOptions::default()).expect_err("the lab is refused");
    let found = error
        .downcast_ref::<LabError>()
        .unwrap_or_else(|| panic!("not a LabError: {error:#}"))
        .clone();
    assert_eq!(found.file, path, "{found}");
    remove(&path);
    found
}

fn remove(lab: &std::path::Path) {
    let _ = std::fs::remove_dir_all(lab.parent().expect("a lab file is in its folder"));
}

const TWO_TARGETS: &str = r#"name = "static"

[[target]]
name = "nginx"
role = "baseline"
start = ["sh", "-c", "exec my-server --port {port} --root ${ROOT}"]
env = { PORT = "{port}" }
cwd = "."
ready = "/health"

[[target]]
name = "python"
role = "candidate"
start = ["python3", "{dir}/server.py", "{port}"]

[[scenario]]
name = "get"
request = "GET /data.json"
connections = 16
duration = "3s"
"#;

#[test]
fn a_good_lab_is_read_whole() {
    let path = write_lab("good", TWO_TARGETS);
    let lab = lab::load(&path, &LoadOptions::default()).unwrap();
    assert_eq!(lab.name, "static");
    let names: Vec<&str> = lab.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["nginx", "python"]);
    assert_eq!(lab.targets[0].role, Role::Baseline);
    assert_eq!(lab.targets[1].role, Role::Candidate);
    let TargetKind::Started { start, .. } = &lab.targets[1].kind else {
        panic!("python is started by ferry");
    };
    // {dir} is known when the file is read; {port} only per start.
    assert_eq!(
        start[1],
        format!("{}/server.py", path.parent().unwrap().display())
    );
    assert_eq!(start[2], "{port}");
    let scenario = &lab.scenarios[0];
    assert_eq!(
        scenario.requests,
        RequestSource::One {
            method: "GET".into(),
            path: "/data.json".into()
        }
    );
    assert_eq!(scenario.connections, 16);
    assert_eq!(scenario.duration.as_secs(), 3);
    assert_eq!(lab.slo, lab::Slo::DEFAULT);
    remove(&path);
}

#[test]
fn set_overrides_a_value_and_quick_vars_apply() {
    let text = format!(
        "{TWO_TARGETS}\n[vars]\nusers = 100000\n[quick.vars]\nusers = 1000\n[slo]\np99 = \"10ms\"\nerrors = \"0.5%\"\n"
    );
    let path = write_lab("set", &text);
    let quick = LoadOptions {
        quick: true,
        sets: vec!["scenario.get.connections=4".into(), "slo.p99=5ms".into()],
    };
    let lab = lab::load(&path, &quick).unwrap();
    assert_eq!(lab.vars["users"], "1000");
    assert_eq!(lab.scenarios[0].connections, 4);
    assert_eq!(lab.slo.p99.as_millis(), 5);
    assert!((lab.slo.error_ratio - 0.005).abs() < 1e-12);
    // An explicit --set of a var wins over [quick.vars].
    let set = LoadOptions {
        quick: true,
        sets: vec!["vars.users=7".into()],
    };
    assert_eq!(lab::load(&path, &set).unwrap().vars["users"], "7");
    remove(&path);
}

#[test]
fn attached_and_remote_targets_are_read() {
    let text = TWO_TARGETS.replace(
        "start = [\"python3\", \"{dir}/server.py\", \"{port}\"]",
        "url = \"http://10.0.0.5:9000\"\nmetrics = \"/metrics\"",
    ) + "\n[[target]]\nname = \"local\"\nrole = \"candidate\"\nurl = \"http://127.0.0.1:9001\"\npid_file = \"{dir}/pid\"\n";
    let path = write_lab("attached", &text);
    let lab = lab::load(&path, &LoadOptions::default()).unwrap();
    remove(&path);
    let TargetKind::Remote {
        machine, metrics, ..
    } = &lab.targets[1].kind
    else {
        panic!("python is remote: {:?}", lab.targets[1].kind);
    };
    assert_eq!(
        (machine.as_str(), metrics.as_str()),
        ("10.0.0.5", "/metrics")
    );
    let TargetKind::Attached {
        pid: PidSource::File(file),
        ..
    } = &lab.targets[2].kind
    else {
        panic!("local is attached: {:?}", lab.targets[2].kind);
    };
    assert!(file.ends_with("/pid"), "{file}");
}

#[test]
fn a_missing_baseline_is_refused() {
    let error = bad(
        "no-baseline",
        &TWO_TARGETS.replace("\"baseline\"", "\"candidate\""),
    );
    assert_eq!(
        (error.line, error.key.as_str()),
        (5, "target.nginx.role"),
        "{error}"
    );
    assert!(error.message.contains("exactly one"), "{error}");
}

#[test]
fn a_second_baseline_is_refused() {
    let error = bad(
        "two-baselines",
        &TWO_TARGETS.replace("\"candidate\"", "\"baseline\""),
    );
    assert_eq!(
        (error.line, error.key.as_str()),
        (13, "target.python.role"),
        "{error}"
    );
    assert!(error.message.contains("second baseline"), "{error}");
}

#[test]
fn an_unknown_key_is_refused() {
    let error = bad(
        "unknown-key",
        &TWO_TARGETS.replace("cwd = \".\"", "cwd = \".\"\nredy = \"/x\""),
    );
    assert_eq!((error.line, error.key.as_str()), (9, "redy"), "{error}");
    assert!(error.message.contains("unknown field"), "{error}");
}

#[test]
fn a_target_with_neither_start_nor_url_is_refused() {
    let error = bad(
        "no-start",
        &TWO_TARGETS.replace(
            "start = [\"python3\", \"{dir}/server.py\", \"{port}\"]\n",
            "",
        ),
    );
    assert_eq!(
        (error.line, error.key.as_str()),
        (12, "target.python.start"),
        "{error}"
    );
    assert!(error.message.contains("neither"), "{error}");
}

#[test]
fn a_placeholder_nobody_provides_is_refused() {
    let error = bad(
        "placeholder",
        &TWO_TARGETS.replace("\"{dir}/server.py\"", "\"{dri}/server.py\""),
    );
    assert_eq!(
        (error.line, error.key.as_str()),
        (14, "target.python.start"),
        "{error}"
    );
    assert!(error.message.contains("`{dri}`"), "{error}");
    // {port} is a target's alone; a scenario has none.
    let error = bad(
        "port-in-scenario",
        &TWO_TARGETS.replace("/data.json", "/{port}"),
    );
    assert_eq!(
        (error.line, error.key.as_str()),
        (18, "scenario.get.request"),
        "{error}"
    );
}

#[test]
fn a_scenario_naming_a_missing_file_is_refused() {
    let text = TWO_TARGETS.replace(
        "request = \"GET /data.json\"",
        "requests = \"targets.json\"",
    );
    let error = bad("missing-file", &text);
    assert_eq!(
        (error.line, error.key.as_str()),
        (18, "scenario.get.requests"),
        "{error}"
    );
    assert!(error.message.contains("does not exist"), "{error}");
    let text = TWO_TARGETS.replace("connections = 16", "values = { id = \"ids.txt\" }");
    let error = bad("missing-values", &text);
    assert_eq!(
        (error.line, error.key.as_str()),
        (19, "scenario.get.values.id"),
        "{error}"
    );
}

#[test]
fn a_relative_rate_needs_an_earlier_closed_scenario() {
    let text = format!(
        "{TWO_TARGETS}\n[[scenario]]\nname = \"burst\"\nrequest = \"GET /data.json\"\nrate = \"20%:5s,60%:2s\"\n"
    );
    let error = bad("relative", &text);
    assert_eq!(
        (error.line, error.key.as_str()),
        (25, "scenario.burst.rate"),
        "{error}"
    );
    let good = text.replace("rate = ", "relative_to = \"get\"\nrate = ");
    let path = write_lab("relative-good", &good);
    let lab = lab::load(&path, &LoadOptions::default()).unwrap();
    remove(&path);
    assert_eq!(lab.scenarios[1].relative_to.as_deref(), Some("get"));
}
