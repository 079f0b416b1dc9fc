//! `[target.container]` in a lab file: a good one is read with its limits and `{cores}` of
//! ⌈cpus⌉, and a bad one stops before anything starts with its line and key.

use std::path::PathBuf;

use ferry::compare::lab::{self, LabError, LoadOptions, TargetKind};

const LAB: &str = r#"name = "containers"

[env]
WORKERS = "{cores}"

[[target]]
name = "rust"
role = "baseline"
env = { PORT = "{port}", THREADS = "{cores}" }
ready = "/health/ready"

[target.container]
image = "localhost/user-service:dev"
cpus = 1.5
memory = "2g"
engine_args = ["--read-only", "--env=GOMAXPROCS={cores}"]

[[scenario]]
name = "get"
request = "GET /"
"#;

fn write_lab(test: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-lab-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lab.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn bad(test: &str, text: &str) -> LabError {
    let path = write_lab(test, text);
    let error = lab::load(&path, &LoadOptions::default()).expect_err("the lab is refused");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    error
        .downcast_ref::<LabError>()
        .unwrap_or_else(|| panic!("not a LabError: {error:#}"))
        .clone()
}

#[test]
fn a_container_target_is_read_with_its_limits_and_cores() {
    let path = write_lab("container-good", LAB);
    let lab = lab::load(&path, &LoadOptions::default()).unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let target = &lab.targets[0];
    assert_eq!(target.kind.label(), "container");
    let TargetKind::Started {
        start,
        env,
        container: Some(spec),
        ..
    } = &target.kind
    else {
        panic!("a started container target: {:?}", target.kind);
    };
    assert!(start.is_empty(), "the image's command runs: {start:?}");
    assert_eq!(spec.image, "localhost/user-service:dev");
    assert_eq!((spec.cpus, spec.memory.as_str()), (1.5, "2g"));
    assert_eq!(spec.memory_bytes, 2 << 30);
    // The engine's arguments get the container's own {cores}, filled when the lab is read.
    assert_eq!(spec.engine_args, ["--read-only", "--env=GOMAXPROCS=2"]);
    // ⌈1.5⌉ = 2, in the target's env and in [env] as it receives it.
    assert!(env.contains(&("THREADS".into(), "2".into())), "{env:?}");
    assert_eq!(spec.lab_env, [("WORKERS".to_string(), "2".to_string())]);
}

#[test]
fn bad_container_tables_are_refused_with_their_key() {
    let cases = [
        ("cpus = 1.5", "cpus = 0", 14, "target.rust.container.cpus"),
        (
            "memory = \"2g\"",
            "memory = \"lots\"",
            15,
            "target.rust.container.memory",
        ),
        (
            "memory = \"2g\"",
            "memory = \"1m\"",
            15,
            "target.rust.container.memory",
        ),
        (
            "image = \"localhost/user-service:dev\"",
            "image = \"\"",
            13,
            "target.rust.container.image",
        ),
        (
            "ready = \"/health/ready\"",
            "ready = \"/health/ready\"\nurl = \"http://127.0.0.1:1\"",
            11,
            "target.rust.container",
        ),
        (
            "\"--read-only\", ",
            "\"--volume={database_url}:/db\", ",
            16,
            "target.rust.container.engine_args",
        ),
    ];
    for (index, (from, to, line, key)) in cases.into_iter().enumerate() {
        let error = bad(&format!("container-bad-{index}"), &LAB.replace(from, to));
        assert_eq!((error.line, error.key.as_str()), (line, key), "{error}");
    }
}

#[test]
fn a_container_table_without_its_limits_is_refused() {
    let error = bad("container-no-cpus", &LAB.replace("cpus = 1.5\n", ""));
    assert!(error.message.contains("cpus"), "{error}");
}
