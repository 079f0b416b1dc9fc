//! A real throwaway cluster from the machine's binaries: it starts, accepts connections
//! (asked with `psql`, a real client), stops, starts again on the same port, and leaves no
//! directory behind.

use pg_embedded::EmbeddedPostgres;

/// `SELECT 1` through the server's own `psql`.
fn select_one(cluster: &EmbeddedPostgres) -> Result<String, String> {
    crate::support::psql(
        cluster.bin_dir(),
        &cluster.url("postgres"),
        "SELECT 1",
        None,
    )
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
