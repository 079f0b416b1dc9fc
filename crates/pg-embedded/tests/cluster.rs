//! A real throwaway cluster from the machine's binaries: it starts, accepts connections
//! (asked with `psql`, a real client), stops, starts again on the same port, and leaves no
//! directory behind.

use std::process::Command;

use pg_embedded::EmbeddedPostgres;

/// `SELECT 1` through the server's own `psql`.
fn select_one(cluster: &EmbeddedPostgres) -> Result<String, String> {
    let output = Command::new(cluster.bin_dir().join("psql"))
        .args([cluster.url("postgres").as_str(), "-tA", "-c", "SELECT 1"])
        .output()
        .map_err(|error| format!("running psql: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test]
async fn a_throwaway_cluster_serves_stops_restarts_and_is_removed() {
    let mut cluster = EmbeddedPostgres::throwaway()
        .await
        .expect("a throwaway PostgreSQL from the machine's binaries");
    assert_eq!(select_one(&cluster).as_deref(), Ok("1"));
    let port = cluster.port();
    let data_dir = cluster.data_dir().to_path_buf();

    cluster.stop().await.expect("a fast shutdown");
    assert!(
        select_one(&cluster).is_err(),
        "the server still answers after stop"
    );

    cluster
        .start_again()
        .await
        .expect("starting the same cluster again");
    assert_eq!(cluster.port(), port, "the cluster keeps its port");
    assert_eq!(select_one(&cluster).as_deref(), Ok("1"));

    drop(cluster);
    assert!(
        !data_dir.exists(),
        "{} is left behind after drop",
        data_dir.display()
    );
}
