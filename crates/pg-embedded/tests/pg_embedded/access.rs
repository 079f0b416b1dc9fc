//! Who can reach an embedded cluster, on real initdb/postgres. CI runs as root, where the
//! server runs as `postgres`; the checks that need another user to be impersonated say
//! so when they cannot run.
//!
//! - Nothing connects over TCP, and another local user (`nobody`) cannot connect at all,
//!   while we (root, or the server's own user) can.
//! - A data directory the `postgres` user cannot enter (inside a `mktemp -d` directory,
//!   mode 0700), with a path too long for a Unix socket address, still holds a cluster.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::psql;
use nix::unistd::{Uid, User};
use pg_embedded::{EmbeddedOptions, EmbeddedPostgres};

/// Another local user to impersonate, when we are root.
fn another_user() -> Option<User> {
    if !Uid::effective().is_root() {
        eprintln!("not root: the checks as another local user are skipped (CI runs as root)");
        return None;
    }
    let user = User::from_name("nobody")
        .expect("reading the user database")
        .expect("a `nobody` user (Debian has one)");
    Some(user)
}

/// Mode bits and owner of `path`, which must exist.
fn mode_and_owner(path: &Path) -> (u32, u32) {
    let metadata = fs::metadata(path).expect("the path exists");
    (metadata.permissions().mode() & 0o7777, metadata.uid())
}

#[tokio::test]
async fn only_the_owner_connects_and_never_over_tcp() {
    let cluster = EmbeddedPostgres::throwaway()
        .await
        .expect("a throwaway PostgreSQL from the machine's binaries");
    let bin = cluster.bin_dir();
    let url = cluster.url("postgres");
    assert_eq!(
        psql(bin, &url, "SELECT current_user", None).as_deref(),
        Ok("postgres"),
        "we connect through the socket, as the superuser"
    );
    assert_eq!(
        psql(bin, &url, "SHOW listen_addresses", None).as_deref(),
        Ok(""),
        "the server listens on no TCP address"
    );
    let tcp = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5",
        cluster.port()
    );
    assert!(
        psql(bin, &tcp, "SELECT 1", None).is_err(),
        "a connection without credentials over TCP was accepted"
    );

    let (mode, owner) = mode_and_owner(cluster.socket_dir());
    assert_eq!(mode & 0o077, 0, "the socket directory is private: {mode:o}");
    let server_uid = fs::metadata(cluster.data_dir())
        .expect("the data directory")
        .uid();
    assert_eq!(
        owner, server_uid,
        "the server's user owns the socket directory"
    );

    if let Some(nobody) = another_user() {
        let refused = psql(bin, &url, "SELECT 1", Some(&nobody))
            .expect_err("another local user connected to the embedded server");
        assert!(
            refused.contains("Permission denied"),
            "refused for the wrong reason: {refused}"
        );
        assert!(
            psql(bin, &tcp, "SELECT 1", Some(&nobody)).is_err(),
            "another local user connected over TCP"
        );
    }
}

#[tokio::test]
async fn a_private_checkout_with_a_long_path_holds_a_cluster() {
    // Like a checkout in /root or a `mktemp -d` directory: 0700, owned by us.
    let checkout = tempfile::tempdir().expect("a temporary directory");
    fs::set_permissions(checkout.path(), fs::Permissions::from_mode(0o700))
        .expect("making the checkout private");
    let requested = checkout
        .path()
        .join("a-checkout-whose-path-is-long-enough")
        .join("to-pass-the-107-bytes-of-a-unix-socket-address")
        .join(".data/postgres");
    assert!(requested.as_os_str().len() > 107);
    let mut options = EmbeddedOptions::persistent(&requested);
    options.ephemeral = true;
    options.remove_on_drop = true;
    let cluster = EmbeddedPostgres::start(options)
        .await
        .expect("a cluster in a private directory with a long path");
    let bin = cluster.bin_dir().to_path_buf();
    assert_eq!(
        psql(&bin, &cluster.url("postgres"), "SELECT 1", None).as_deref(),
        Ok("1")
    );
    assert!(
        requested.join("PG_VERSION").exists(),
        "the cluster is found where it was asked for"
    );
    let socket_dir = cluster.socket_dir().to_path_buf();
    assert!(
        socket_dir.as_os_str().len() < 92,
        "the socket directory is short: {}",
        socket_dir.display()
    );
    let (mode, _) = mode_and_owner(&socket_dir);
    assert_eq!(mode, 0o700, "the short socket directory is private");
    let data_dir = cluster.data_dir().to_path_buf();
    if let Some(nobody) = another_user() {
        assert_ne!(
            data_dir, requested,
            "as root the cluster moved where the postgres user can reach it"
        );
        assert!(
            psql(&bin, &cluster.url("postgres"), "SELECT 1", Some(&nobody)).is_err(),
            "another local user reached the short socket directory"
        );
    }

    // A second process on the same data directory attaches to the running server.
    let mut options = EmbeddedOptions::persistent(&requested);
    options.ephemeral = true;
    let attached = EmbeddedPostgres::start(options)
        .await
        .expect("attaching to the running cluster");
    assert_eq!(attached.socket_dir(), socket_dir);
    assert_eq!(
        psql(&bin, &attached.url("postgres"), "SELECT 2", None).as_deref(),
        Ok("2")
    );
    drop(attached);

    drop(cluster);
    for left in [&data_dir, &socket_dir, &requested] {
        assert!(
            fs::symlink_metadata(left).is_err(),
            "{} is left behind",
            left.display()
        );
    }
}
