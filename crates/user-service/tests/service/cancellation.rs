//! Requests cancelled in the middle of a read or a write (their futures dropped while the
//! query is at the server) leave no poisoned connection: later work succeeds. (A create
//! cancelled inside a coalesced batch: `batched_creates.rs`.)

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use kit::config::DatabaseSettings;
use kit::db::Database;
use kit::db::pipelined::PipelinedReader;
use user_service::domain::email::Email;
use user_service::store::UserStore;
use user_service::store::users::READ_STATEMENTS;

/// A store with coalescing on over a pool of two and a pipelined reader.
async fn store_on(database_url: &str) -> (UserStore, Database) {
    let settings = DatabaseSettings {
        pool_size: 2,
        ..DatabaseSettings::default()
    };
    let database = Database::connect_lazy(database_url, &settings).expect("a pool");
    let reader = Arc::new(
        PipelinedReader::start(database_url, READ_STATEMENTS, &settings).expect("a reader"),
    );
    assert!(reader.wait_connected(Duration::from_secs(10)).await);
    let store = UserStore::new(
        database.clone(),
        database.clone(),
        Some(reader),
        None,
        true,
        1024,
    );
    (store, database)
}

/// With the table locked, 20 rounds of a read and a write each cancelled by a timeout
/// while at the server.
async fn cancel_under_lock(database_url: &str, store: &UserStore, id: uuid::Uuid) {
    // Block the row so reads and writes are still at the server when we drop them.
    let mut blocker = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    blocker.execute("BEGIN").await.expect("BEGIN");
    blocker
        .execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("locking");
    for round in 0..20 {
        let new_email = Email::parse(&format!("cancel-{round}@example.com")).expect("valid");
        let read = tokio::time::timeout(Duration::from_millis(20), store.get_rendered(id)).await;
        assert!(
            read.is_err(),
            "the read is blocked by the lock, so the timeout cancels it"
        );
        let write = tokio::time::timeout(
            Duration::from_millis(20),
            store.update_email(id, &new_email),
        )
        .await;
        assert!(
            write.is_err(),
            "the write is blocked by the lock, so the timeout cancels it"
        );
    }
    blocker.execute("ROLLBACK").await.expect("unlocking");
}

/// Every connection, pooled and pipelined, answers correctly.
async fn check_usable(store: &UserStore, id: uuid::Uuid) {
    for round in 0..10 {
        let new_email = Email::parse(&format!("after-{round}@example.com")).expect("valid");
        let updated = store
            .update_email(id, &new_email)
            .await
            .expect("writes work after cancellations")
            .expect("the user exists");
        assert_eq!(updated.email, new_email.as_str());
        let read = store
            .get_rendered(id)
            .await
            .expect("reads work after cancellations")
            .expect("exists");
        let read: serde_json::Value = serde_json::from_slice(&read).expect("a JSON user");
        assert_eq!(
            read["email"],
            new_email.as_str(),
            "reads see the latest write"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_reads_and_writes_leave_connections_usable() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let (store, database) = store_on(&database_url).await;

    let email = Email::parse("cancel@example.com").expect("a valid email");
    let user = match store.create(None, &email).await.expect("create") {
        user_service::store::CreateOutcome::Created(user) => user,
        other => panic!("a fresh database has no such user: {other:?}"),
    };
    cancel_under_lock(&database_url, &store, user.id).await;
    // The cancelled writes still run: a change taken into the coalescer's queue is run
    // with its batch even when its caller has gone (`kit::db::coalesce`), and two batches
    // run at once, so one of them could commit after a write below and undo it. Before
    // the checks, wait until they have all run.
    assert!(
        writes_settle(
            &database,
            Duration::from_millis(200),
            Duration::from_secs(10)
        )
        .await,
        "the cancelled writes ran within 10 s of the unlock"
    );
    // Every connection, pooled and pipelined, answers correctly afterwards.
    check_usable(&store, user.id).await;
}

/// Waits until every pooled connection has stayed idle for `quiet` (a batch between two
/// statements holds no connection only for microseconds); false if that took longer than
/// `within`.
async fn writes_settle(database: &Database, quiet: Duration, within: Duration) -> bool {
    let poll = Duration::from_millis(10);
    let started = tokio::time::Instant::now();
    let mut idle_since = None;
    while started.elapsed() < within {
        let (size, idle) = database.pool_state();
        if idle == size as usize {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= quiet {
                return true;
            }
        } else {
            idle_since = None;
        }
        tokio::time::sleep(poll).await;
    }
    false
}
