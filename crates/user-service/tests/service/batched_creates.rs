//! Coalesced creates at the store: a create whose caller goes away inside its batch, and
//! a row that breaks the batch's statement. Each test fills both batch slots with creates
//! waiting on held emails, so that the creates queued behind them form one batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use kit::config::DatabaseSettings;
use kit::db::Database;
use kit::db::pipelined::PipelinedReader;
use user_service::domain::email::Email;
use user_service::store::users::READ_STATEMENTS;
use user_service::store::{CreateOutcome, StoreError, UserStore};

/// A store with coalescing on, on `database_url`.
async fn coalescing_store(database_url: &str) -> Arc<UserStore> {
    let settings = DatabaseSettings::default();
    let database = Database::connect_lazy(database_url, &settings).expect("a pool");
    let reader = Arc::new(
        PipelinedReader::start(database_url, READ_STATEMENTS, &settings).expect("a reader"),
    );
    assert!(reader.wait_connected(Duration::from_secs(10)).await);
    Arc::new(UserStore::new(
        database.clone(),
        database,
        Some(reader),
        None,
        true,
        1024,
    ))
}

type Pending = tokio::task::JoinHandle<Result<CreateOutcome, StoreError>>;

fn spawn_create(store: &Arc<UserStore>, id: Uuid, email: String) -> Pending {
    let store = store.clone();
    tokio::spawn(async move {
        let email = Email::parse(&email).expect("a valid email");
        store.create(Some(id), &email).await
    })
}

fn fresh_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// Holds an uncommitted insert of `email`: a create of the same email waits for it at
/// the server (the unique index), inside its statement.
async fn hold_email(database_url: &str, email: &str) -> PgConnection {
    let mut holder = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    holder.execute("BEGIN").await.expect("BEGIN");
    sqlx::query("INSERT INTO users (id, email) VALUES (gen_random_uuid(), $1)")
        .bind(email)
        .execute(&mut holder)
        .await
        .expect("the held insert");
    holder
}

/// Inserts waiting on a lock, as the server sees them.
async fn waiting_inserts(database_url: &str) -> i64 {
    let mut observer = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO users%'",
    )
    .fetch_one(&mut observer)
    .await
    .expect("pg_stat_activity")
}

async fn until_waiting(database_url: &str, inserts: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while waiting_inserts(database_url).await < inserts {
        assert!(Instant::now() < deadline, "{inserts} inserts never waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A create whose caller goes away while its row is in an executing batch: the batch
/// goes on, the others in it are answered, and the cancelled row is committed with
/// them, so its retry is an idempotent 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cancelled_in_its_batch_is_committed_and_the_others_are_answered() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url).await;
    let create = |id: Uuid, email: String| spawn_create(&store, id, email);

    // Both batch slots busy, each create waiting on its own held email.
    let mut first_holder = hold_email(&database_url, "held-1@example.com").await;
    let mut second_holder = hold_email(&database_url, "held-2@example.com").await;
    let first = create(Uuid::now_v7(), "held-1@example.com".into());
    until_waiting(&database_url, 1).await;
    let second = create(Uuid::now_v7(), "held-2@example.com".into());
    until_waiting(&database_url, 2).await;

    // Eight creates queue for the next batch, one of which will wait on the second hold.
    let cancelled_id = Uuid::now_v7();
    let cancelled_email = format!("cancelled-{}@example.com", cancelled_id.simple());
    let cancelled = create(cancelled_id, cancelled_email.clone());
    let mut others = Vec::new();
    for index in 0..6 {
        others.push(create(
            Uuid::now_v7(),
            format!("other-{index}-{}@example.com", Uuid::new_v4().simple()),
        ));
    }
    others.push(create(Uuid::now_v7(), "held-2@example.com".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The first slot frees; the eight go out as one insert, which waits on the hold.
    first_holder.execute("ROLLBACK").await.expect("releasing");
    assert!(matches!(
        first.await.expect("joins"),
        Ok(CreateOutcome::Created(_))
    ));
    until_waiting(&database_url, 2).await;
    cancelled.abort();
    assert!(
        cancelled.await.expect_err("aborted").is_cancelled(),
        "the caller went away before its batch was answered"
    );
    second_holder.execute("ROLLBACK").await.expect("releasing");

    // The others of the batch are answered: six fresh emails and the held one, whose
    // first claimant in queue order (the second slot's create or this batch's) wins.
    let mut created = 0;
    let mut taken = 0;
    for other in others.into_iter().chain([second]) {
        match other.await.expect("joins") {
            Ok(CreateOutcome::Created(_)) => created += 1,
            Err(StoreError::EmailTaken) => taken += 1,
            outcome => panic!("an answer of the batch: {outcome:?}"),
        }
    }
    assert_eq!(
        (created, taken),
        (7, 1),
        "six fresh emails and one of two held-2 creates"
    );

    // The cancelled row was committed with its batch: the retry is a 200, not a 201.
    let email = Email::parse(&cancelled_email).expect("a valid email");
    match store.create(Some(cancelled_id), &email).await {
        Ok(CreateOutcome::AlreadyExisted(user)) => assert_eq!(user.id, cancelled_id),
        outcome => panic!("the retry of the cancelled create: {outcome:?}"),
    }
    // The connections stay usable.
    let fresh = Email::parse("after-cancel@example.com").expect("a valid email");
    assert!(matches!(
        store.create(None, &fresh).await,
        Ok(CreateOutcome::Created(_))
    ));
    assert!(
        store
            .get_rendered(cancelled_id)
            .await
            .expect("a read")
            .is_some(),
        "the cancelled row is stored"
    );
}

/// A row the statement refuses (here a CHECK constraint added to the test database)
/// fails alone: the batch's rows are then created one by one, and the others are 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_breaks_the_batch_fails_alone() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let mut admin = PgConnection::connect(&database_url)
        .await
        .expect("connecting");
    admin
        .execute("ALTER TABLE users ADD CONSTRAINT not_refused CHECK (email NOT LIKE 'refused-%')")
        .await
        .expect("adding the constraint");
    let store = coalescing_store(&database_url).await;

    let mut first_holder = hold_email(&database_url, "held-1@example.com").await;
    let mut second_holder = hold_email(&database_url, "held-2@example.com").await;
    let first = spawn_create(&store, Uuid::now_v7(), "held-1@example.com".into());
    until_waiting(&database_url, 1).await;
    let second = spawn_create(&store, Uuid::now_v7(), "held-2@example.com".into());
    until_waiting(&database_url, 2).await;

    let mut fine = Vec::new();
    for _ in 0..4 {
        fine.push(spawn_create(&store, Uuid::now_v7(), fresh_email("fine")));
    }
    let refused = spawn_create(&store, Uuid::now_v7(), fresh_email("refused"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    first_holder.execute("ROLLBACK").await.expect("releasing");
    second_holder.execute("ROLLBACK").await.expect("releasing");

    for create in fine.into_iter().chain([first, second]) {
        assert!(
            matches!(create.await.expect("joins"), Ok(CreateOutcome::Created(_))),
            "every other row of the batch is created"
        );
    }
    match refused.await.expect("joins") {
        Err(StoreError::Database(error)) => assert_eq!(
            error
                .as_database_error()
                .and_then(|error| error.code())
                .as_deref(),
            Some("23514"),
            "the refused row fails with its own check violation"
        ),
        outcome => panic!("the refused row: {outcome:?}"),
    }
}
