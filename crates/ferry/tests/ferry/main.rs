//! ferry's tests but the "services that are not ours" (`tests/honest/`), one binary so that
//! hyper, rustls and reqwest are linked once: the load engine in process (errors, rate,
//! coordinated omission, merging, lab files) and the `ferry` binary run as a process
//! (load, compare, candidates, shadow, cost, distributed runs, TLS), on real servers,
//! PostgreSQL, Prometheus, nginx and Chromium. The heavy tests are `#[ignore]`d, each run
//! by a `scripts/ci/` script that names its module (`--test ferry shadow_node::`).

mod candidates_errors;
mod candidates_prometheus;
mod cli;
mod compare_attached;
mod compare_container;
mod compare_container_oom;
mod compare_plan;
mod compare_quick;
mod coordinated_omission;
mod cost_cli;
mod distributed_cli;
mod distributed_netns;
mod errors;
mod html_report;
mod indexed_job;
mod lab_container;
mod lab_file;
mod merge_exact;
mod rate_accuracy;
mod shadow_input;
mod shadow_node;
mod shadow_proxy;
mod shadow_regressions;
mod support;
mod tls;
