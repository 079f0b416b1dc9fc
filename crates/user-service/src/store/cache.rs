//! The read-through cache of users by id.
//!
//! Settings (`[cache]`): `enabled`, `max_entries`, `ttl_secs`.
//!
//! - Bounded by entries (quick_cache, S3-FIFO eviction) and by time: an entry older
//!   than `ttl_secs` is not served but loaded again. Only existing users are kept.
//! - Concurrent misses for one id wait for a single load (quick_cache's placeholder
//!   guard). When that load finds no user, or fails, the next waiter loads in its turn.
//! - Coherent: every write through this instance invalidates its entry before the write
//!   is answered (read-your-writes), and every replica invalidates on the
//!   `users_changed` notifications that the database sends when a write commits
//!   (`migrations/*_notify_user_changes.sql`). A lost `LISTEN` connection clears the
//!   whole cache, since notifications may have been missed.
//! - A load that raced with an invalidation is not trusted: each entry remembers the
//!   invalidation epoch at which its load began, and an entry older than a later
//!   invalidation of its id is dropped and loaded again. Without this, a read that
//!   fetched the old row just before a write committed could put it back in the cache
//!   just after the write's invalidation. (An invalidation also removes a load's
//!   placeholder, so that load's result is not inserted at all.)
//!
//! Why quick_cache rather than moka: a moka hit also records the read for its LRU order
//! and frequency sketch, touching more memory than the entry itself; on a 10,000-user
//! hot set that cost about a tenth of the cached read's throughput
//! (`labs/read-path.toml`: get-user-hot on rust-cache).
//!
//! Metrics: `cache_hits_total`, `cache_misses_total`, `cache_invalidations_total`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use foldhash::fast::RandomState;
use quick_cache::UnitWeighter;
use quick_cache::sync::{Cache, DefaultLifecycle};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::users::StoreError;

/// `[cache]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Off by default: the Node baseline has no cache, and comparisons compare like
    /// with like. Turn it on for production (`APP_CACHE__ENABLED=true`).
    pub enabled: bool,
    pub max_entries: u64,
    pub ttl_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: false,
            max_entries: 100_000,
            ttl_secs: 60,
        }
    }
}

struct Entry {
    /// The user as the API renders it (`User::render`): a hit costs no serialisation.
    body: Bytes,
    /// The invalidation epoch when the load began.
    loaded_at: u64,
    expires_at: Instant,
}

/// A map by user id bounded by its number of entries. foldhash, seeded per process,
/// rather than SipHash: only existing users are inserted, so the keys are not the
/// attacker's to choose.
type ById<V> = Cache<Uuid, V, UnitWeighter, RandomState, DefaultLifecycle<Uuid, V>>;

fn bounded<V: Clone>(max_entries: u64) -> ById<V> {
    Cache::with(
        usize::try_from(max_entries).unwrap_or(usize::MAX),
        max_entries,
        UnitWeighter,
        RandomState::default(),
        DefaultLifecycle::default(),
    )
}

pub struct UserCache {
    entries: ById<Arc<Entry>>,
    ttl: Duration,
    /// Id → the epoch of its latest invalidation (as many ids as entries, at most).
    invalidated: ById<u64>,
    /// Loads that began before this epoch are stale (a cleared cache).
    cleared_at: AtomicU64,
    epoch: AtomicU64,
    hits: metrics::Counter,
    misses: metrics::Counter,
    invalidations: metrics::Counter,
}

impl UserCache {
    pub fn new(settings: &CacheSettings) -> Self {
        UserCache {
            entries: bounded(settings.max_entries),
            ttl: Duration::from_secs(settings.ttl_secs),
            invalidated: bounded(settings.max_entries),
            cleared_at: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            hits: kit::metrics::counter("cache_hits_total"),
            misses: kit::metrics::counter("cache_misses_total"),
            invalidations: kit::metrics::counter("cache_invalidations_total"),
        }
    }

    /// Whether `entry` may be served: not expired, and not loaded before a later
    /// invalidation of its id.
    fn is_servable(&self, id: &Uuid, entry: &Entry) -> bool {
        if Instant::now() >= entry.expires_at {
            return false;
        }
        // Nothing was invalidated since the load began: the common case under a read
        // load, answered without a lookup.
        if self.epoch.load(Ordering::SeqCst) == entry.loaded_at {
            return true;
        }
        entry.loaded_at >= self.cleared_at.load(Ordering::SeqCst)
            && self
                .invalidated
                .get(id)
                .is_none_or(|epoch| epoch <= entry.loaded_at)
    }

    /// The rendered user with `id`, from the cache or from `load`.
    pub async fn get_or_load<F, Fut>(&self, id: Uuid, load: F) -> Result<Option<Bytes>, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, StoreError>>,
    {
        // A second unservable entry in a row means writes are racing reads of this id;
        // the third try goes to the database directly.
        for _ in 0..2 {
            match self.entries.get_value_or_guard_async(&id).await {
                Ok(entry) if self.is_servable(&id, &entry) => {
                    self.hits.increment(1);
                    return Ok(Some(entry.body.clone()));
                }
                Ok(unservable) => {
                    // Only this entry: another caller may have loaded a fresh one since.
                    self.entries
                        .remove_if(&id, |current| Arc::ptr_eq(current, &unservable));
                }
                Err(guard) => {
                    self.misses.increment(1);
                    let loaded_at = self.epoch.load(Ordering::SeqCst);
                    // A load that finds nothing or fails drops the guard: the next
                    // waiter loads in its turn.
                    let Some(body) = load().await? else {
                        return Ok(None);
                    };
                    // Err: an invalidation removed the placeholder meanwhile; this
                    // caller's own read is still as fresh as any it could make now.
                    let _ = guard.insert(Arc::new(Entry {
                        body: body.clone(),
                        loaded_at,
                        expires_at: Instant::now() + self.ttl,
                    }));
                    return Ok(Some(body));
                }
            }
        }
        load().await
    }

    /// Forgets `id`; later loads that began before this call are not trusted.
    pub fn invalidate(&self, id: Uuid) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.invalidated.insert(id, epoch);
        self.entries.remove(&id);
        self.invalidations.increment(1);
    }

    /// Forgets everything (notifications may have been missed).
    pub fn clear(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.cleared_at.store(epoch, Ordering::SeqCst);
        self.entries.clear();
        self.invalidations.increment(1);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use futures_util::future::join_all;

    use super::*;

    fn cache(ttl_secs: u64) -> UserCache {
        UserCache::new(&CacheSettings {
            enabled: true,
            max_entries: 100,
            ttl_secs,
        })
    }

    /// A load that counts its calls and yields before it answers, so that callers
    /// polled alongside it are already waiting when it does.
    async fn load(
        calls: &Cell<u32>,
        body: Option<&'static str>,
    ) -> Result<Option<Bytes>, StoreError> {
        calls.set(calls.get() + 1);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        Ok(body.map(|body| Bytes::from_static(body.as_bytes())))
    }

    const BODY: &str = r#"{"email":"ada@example.com"}"#;

    #[tokio::test]
    async fn concurrent_misses_for_one_id_share_one_load() {
        let cache = cache(60);
        let id = Uuid::now_v7();
        let calls = Cell::new(0);
        let results =
            join_all((0..20).map(|_| cache.get_or_load(id, || load(&calls, Some(BODY))))).await;
        assert_eq!(calls.get(), 1, "twenty concurrent misses, one load");
        for result in results {
            assert_eq!(result.expect("loaded").as_deref(), Some(BODY.as_bytes()));
        }
        let again = cache.get_or_load(id, || load(&calls, None)).await;
        assert_eq!(again.expect("cached").as_deref(), Some(BODY.as_bytes()));
        assert_eq!(calls.get(), 1, "a later read is a hit");
    }

    #[tokio::test]
    async fn a_load_that_raced_an_invalidation_is_not_served_later() {
        let cache = cache(60);
        let id = Uuid::now_v7();
        let calls = Cell::new(0);
        // join! polls the load first: it is in flight when the invalidation runs.
        let (raced, ()) = tokio::join!(cache.get_or_load(id, || load(&calls, Some(BODY))), async {
            cache.invalidate(id)
        });
        assert_eq!(raced.expect("loaded").as_deref(), Some(BODY.as_bytes()));
        cache
            .get_or_load(id, || load(&calls, Some(BODY)))
            .await
            .expect("loaded");
        assert_eq!(calls.get(), 2, "the raced load was not kept");
    }

    #[tokio::test]
    async fn missing_users_and_expired_entries_are_loaded_again() {
        let calls = Cell::new(0);
        let id = Uuid::now_v7();
        let cache_with_ttl = cache(60);
        for _ in 0..2 {
            let missing = cache_with_ttl.get_or_load(id, || load(&calls, None)).await;
            assert_eq!(missing.expect("answered"), None);
        }
        assert_eq!(calls.get(), 2, "absence is not cached");

        let expiring = cache(0);
        for _ in 0..2 {
            expiring
                .get_or_load(id, || load(&calls, Some(BODY)))
                .await
                .expect("loaded");
        }
        assert_eq!(calls.get(), 4, "an entry past its TTL is loaded again");
    }

    #[tokio::test]
    async fn clearing_forgets_every_entry() {
        let cache = cache(60);
        let calls = Cell::new(0);
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            cache
                .get_or_load(*id, || load(&calls, Some(BODY)))
                .await
                .expect("loaded");
        }
        cache.clear();
        for id in &ids {
            cache
                .get_or_load(*id, || load(&calls, Some(BODY)))
                .await
                .expect("loaded");
        }
        assert_eq!(calls.get(), 10, "every id was loaded again after the clear");
    }
}
