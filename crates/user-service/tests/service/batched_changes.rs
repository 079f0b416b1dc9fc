//! Coalesced email changes and deletes at the store, with real PostgreSQL and real
//! concurrency. Where a test needs its calls in one batch, it first fills both batch
//! slots with changes waiting on row locks held by another connection, so that the
//! calls queued behind them go out together when the locks are released. Those tests
//! run on a current-thread runtime, where spawned tasks first run in the order they
//! were spawned, so the queue order (which decides the winner of a race) is known.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::Barrier;
use uuid::Uuid;

use kit::config::DatabaseSettings;
use kit::db::Database;
use user_service::domain::email::Email;
use user_service::domain::user::User;
use user_service::store::{StoreError, UserStore};

/// How many requests race.
const RACERS: usize = 64;

/// A store with coalescing on (point reads through the pool: these tests change rows).
fn coalescing_store(database_url: &str) -> Arc<UserStore> {
    let settings = DatabaseSettings::default();
    let database = Database::connect_lazy(database_url, &settings).expect("a pool");
    Arc::new(UserStore::new(
        database.clone(),
        database,
        None,
        None,
        true,
        1024,
    ))
}

async fn connect(database_url: &str) -> PgConnection {
    PgConnection::connect(database_url)
        .await
        .expect("connecting")
}

fn email(text: &str) -> Email {
    Email::parse(text).expect("a valid email")
}

fn fresh_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// `count` users inserted directly, their ids in order.
async fn users(database_url: &str, count: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    let emails: Vec<String> = (0..count).map(|_| fresh_email("user")).collect();
    sqlx::query("INSERT INTO users (id, email) SELECT * FROM unnest($1::uuid[], $2::text[])")
        .bind(&ids)
        .bind(&emails)
        .execute(&mut connect(database_url).await)
        .await
        .expect("inserting users");
    ids
}

async fn stored(database_url: &str, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut connect(database_url).await)
        .await
        .expect("a look-up")
}

/// Both batch slots busy: a change of each of two users whose rows another connection
/// has locked. Dropping (or rolling back) the returned connection releases them.
struct Slots {
    holder: PgConnection,
    changes: Vec<tokio::task::JoinHandle<Result<Option<User>, StoreError>>>,
}

async fn fill_slots(database_url: &str, store: &Arc<UserStore>) -> Slots {
    let held = users(database_url, 2).await;
    let mut holder = connect(database_url).await;
    holder.execute("BEGIN").await.expect("BEGIN");
    sqlx::query("SELECT id FROM users WHERE id = ANY($1) FOR UPDATE")
        .bind(&held)
        .execute(&mut holder)
        .await
        .expect("locking the held users");
    let mut changes = Vec::new();
    for (slot, id) in held.into_iter().enumerate() {
        let store = store.clone();
        changes.push(tokio::spawn(async move {
            store.update_email(id, &email(&fresh_email("slot"))).await
        }));
        until_waiting(database_url, slot + 1).await;
    }
    Slots { holder, changes }
}

impl Slots {
    /// Releases the held rows; each slot's change is then applied.
    async fn release(mut self) {
        self.holder.execute("ROLLBACK").await.expect("releasing");
        for change in self.changes {
            let changed = change.await.expect("joins").expect("a slot's change");
            assert!(changed.is_some(), "a slot's user exists");
        }
    }
}

/// Waits until `count` statements wait on a lock, as the server sees them.
async fn until_waiting(database_url: &str, count: usize) {
    let mut observer = connect(database_url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&mut observer)
        .await
        .expect("pg_stat_activity");
        if waiting >= i64::try_from(count).expect("a small count") {
            return;
        }
        assert!(Instant::now() < deadline, "{count} statements never waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `call` for each input at once (released together by a barrier); the answers in
/// input order.
async fn race<I, T, F, Fut>(inputs: Vec<I>, call: F) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let start = Arc::new(Barrier::new(inputs.len()));
    let racers: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let (start, call) = (start.clone(), call.clone());
            tokio::spawn(async move {
                start.wait().await;
                call(input).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(racers.len());
    for racer in racers {
        answers.push(racer.await.expect("a racer does not panic"));
    }
    answers
}

/// Queues `inputs` behind busy slots so that they form one batch, then releases them.
async fn in_one_batch<I, T, F, Fut>(
    database_url: &str,
    store: &Arc<UserStore>,
    inputs: Vec<I>,
    call: F,
) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let slots = fill_slots(database_url, store).await;
    let queued: Vec<_> = inputs
        .into_iter()
        .map(|input| tokio::spawn(call.clone()(input)))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    slots.release().await;
    let mut answers = Vec::with_capacity(queued.len());
    for call in queued {
        answers.push(call.await.expect("a call does not panic"));
    }
    answers
}

/// 64 users changed to one new email in one batch: exactly one 200, 63 × 409, and the
/// winner is the only user with that email.
#[tokio::test]
async fn changes_of_64_users_to_one_email_in_one_batch_one_wins() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let ids = users(&database_url, RACERS).await;
    let wanted = fresh_email("wanted");
    let call_store = store.clone();
    let target = wanted.clone();
    let answers = in_one_batch(&database_url, &store, ids.clone(), move |id| {
        let (store, target) = (call_store.clone(), target.clone());
        async move { store.update_email(id, &email(&target)).await }
    })
    .await;
    let winners: Vec<Uuid> = ids
        .iter()
        .zip(&answers)
        .filter_map(|(id, answer)| matches!(answer, Ok(Some(_))).then_some(*id))
        .collect();
    let taken = answers
        .iter()
        .filter(|answer| matches!(answer, Err(StoreError::EmailTaken)))
        .count();
    assert_eq!(
        (winners.len(), taken),
        (1, RACERS - 1),
        "one 200 and 63 × 409"
    );
    assert_eq!(winners[0], ids[0], "the first in queue order wins");
    assert_eq!(
        stored(&database_url, winners[0]).await,
        Some(wanted.clone())
    );
    let holders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE lower(email) = lower($1)")
            .bind(&wanted)
            .fetch_one(&mut connect(&database_url).await)
            .await
            .expect("counting");
    assert_eq!(holders, 1);
}

/// The same race without forcing a batch (64 tasks released at once): one 200 and
/// 63 × 409, whatever batches form and however they meet at the unique index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_of_64_users_racing_to_one_email_one_wins() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let ids = users(&database_url, RACERS).await;
    let wanted = fresh_email("raced");
    let answers = race(ids, move |id| {
        let (store, wanted) = (store.clone(), wanted.clone());
        async move { store.update_email(id, &email(&wanted)).await }
    })
    .await;
    let applied = answers.iter().filter(|a| matches!(a, Ok(Some(_)))).count();
    let taken = answers
        .iter()
        .filter(|a| matches!(a, Err(StoreError::EmailTaken)))
        .count();
    assert_eq!((applied, taken), (1, RACERS - 1), "one 200 and 63 × 409");
}

/// 64 users each changed to its own new email in one batch: all 200, all applied, and
/// each answer is its own user with its own email.
#[tokio::test]
async fn changes_of_64_distinct_users_are_all_applied() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let ids = users(&database_url, RACERS).await;
    let changes: Vec<(Uuid, String)> = ids.iter().map(|id| (*id, fresh_email("new"))).collect();
    let call_store = store.clone();
    let answers = in_one_batch(&database_url, &store, changes.clone(), move |(id, new)| {
        let store = call_store.clone();
        async move { store.update_email(id, &email(&new)).await }
    })
    .await;
    for ((id, new), answer) in changes.iter().zip(answers) {
        let user = answer.expect("a 200").expect("the user exists");
        assert_eq!((user.id, &user.email), (*id, new), "each its own answer");
        assert_eq!(
            stored(&database_url, *id).await.as_ref(),
            Some(new),
            "applied"
        );
    }
}

/// 64 deletes of one id in one batch: one 204 and 63 × 404.
#[tokio::test]
async fn deletes_of_one_id_in_one_batch_one_204() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let id = users(&database_url, 1).await[0];
    let call_store = store.clone();
    let answers = in_one_batch(&database_url, &store, vec![id; RACERS], move |id| {
        let store = call_store.clone();
        async move { store.delete(id).await }
    })
    .await;
    let deleted = answers.iter().filter(|a| matches!(a, Ok(true))).count();
    let absent = answers.iter().filter(|a| matches!(a, Ok(false))).count();
    assert_eq!((deleted, absent), (1, RACERS - 1), "one 204 and 63 × 404");
    assert!(
        matches!(answers[0], Ok(true)),
        "the first in queue order deletes"
    );
    assert_eq!(stored(&database_url, id).await, None);
}

/// The same without forcing a batch: one 204 and 63 × 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_of_one_id_racing_one_204() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let id = users(&database_url, 1).await[0];
    let answers = race(vec![id; RACERS], move |id| {
        let store = store.clone();
        async move { store.delete(id).await }
    })
    .await;
    let deleted = answers.iter().filter(|a| matches!(a, Ok(true))).count();
    let absent = answers.iter().filter(|a| matches!(a, Ok(false))).count();
    assert_eq!((deleted, absent), (1, RACERS - 1), "one 204 and 63 × 404");
}

enum Call {
    Patch(Uuid, String),
    Delete(Uuid),
}

#[derive(Debug, PartialEq)]
enum Answer {
    Patched(Option<String>),
    Deleted(bool),
    Taken,
}

/// In one batch, queued in this order: a DELETE of a user, then two PATCHes of it, a
/// PATCH of an unknown id, and a PATCH of another user to the first PATCH's email. The
/// batch stands for its email changes in queue order, then its deletes: both PATCHes
/// of the user are 200 (the second's email is the one it had when deleted), the
/// unknown id is 404, the other user's PATCH to a taken email is 409, and the DELETE is
/// 204 with the user gone.
#[tokio::test]
async fn a_patch_and_delete_of_one_id_in_one_batch_are_changes_then_deletes() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let store = coalescing_store(&database_url);
    let ids = users(&database_url, 2).await;
    let (first, second) = (fresh_email("first"), fresh_email("second"));
    let calls = vec![
        Call::Delete(ids[0]),
        Call::Patch(ids[0], first.clone()),
        Call::Patch(ids[0], second.clone()),
        Call::Patch(Uuid::now_v7(), fresh_email("nobody")),
        Call::Patch(ids[1], first.to_uppercase()),
    ];
    let call_store = store.clone();
    let answers = in_one_batch(&database_url, &store, calls, move |call| {
        let store = call_store.clone();
        async move {
            let answer = match call {
                Call::Patch(id, new) => store
                    .update_email(id, &email(&new))
                    .await
                    .map(|user| Answer::Patched(user.map(|user| user.email))),
                Call::Delete(id) => store.delete(id).await.map(Answer::Deleted),
            };
            match answer {
                Err(StoreError::EmailTaken) => Answer::Taken,
                answer => answer.expect("no database error"),
            }
        }
    })
    .await;
    assert_eq!(
        answers,
        vec![
            Answer::Deleted(true),
            Answer::Patched(Some(first)),
            Answer::Patched(Some(second)),
            Answer::Patched(None),
            Answer::Taken,
        ]
    );
    assert_eq!(stored(&database_url, ids[0]).await, None, "deleted last");
}
