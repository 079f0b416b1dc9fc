//! The read-through cache of users by id.
//!
//! Settings (`[cache]`): `enabled`, `max_entries`, `ttl_secs`.
//!
//! - Bounded by entries and by time (moka); only existing users are kept.
//! - Concurrent misses for one id wait for a single load (moka's `try_get_with`).
//! - Coherent: every write through this instance invalidates its entry before the write
//!   is answered (read-your-writes), and every replica invalidates on the
//!   `users_changed` notifications that the database sends when a write commits
//!   (`migrations/*_notify_user_changes.sql`). A lost `LISTEN` connection clears the
//!   whole cache, since notifications may have been missed.
//! - A load that raced with an invalidation is not trusted: each entry remembers the
//!   invalidation epoch at which its load began, and an entry older than a later
//!   invalidation of its id is dropped and loaded again. Without this, a read that
//!   fetched the old row just before a write committed could put it back in the cache
//!   just after the write's invalidation.
//!
//! Metrics: `cache_hits_total`, `cache_misses_total`, `cache_invalidations_total`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web::Bytes;
use foldhash::fast::RandomState;
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
}

/// Why a load did not produce an entry (shared between coalesced callers, so `Clone`).
#[derive(Debug, Clone)]
enum Miss {
    NotFound,
    Unavailable,
    Failed(String),
}

pub struct UserCache {
    // foldhash, seeded per process, rather than SipHash: only existing users are
    // inserted, so the keys are not the attacker's to choose.
    entries: moka::future::Cache<Uuid, Arc<Entry>, RandomState>,
    /// Id → the epoch of its latest invalidation (kept as long as entries live).
    invalidated: moka::sync::Cache<Uuid, u64, RandomState>,
    /// Loads that began before this epoch are stale (a cleared cache).
    cleared_at: AtomicU64,
    epoch: AtomicU64,
}

impl UserCache {
    pub fn new(settings: &CacheSettings) -> Self {
        let ttl = Duration::from_secs(settings.ttl_secs);
        UserCache {
            entries: moka::future::Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(ttl)
                .build_with_hasher(RandomState::default()),
            invalidated: moka::sync::Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(ttl + Duration::from_secs(1))
                .build_with_hasher(RandomState::default()),
            cleared_at: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        }
    }

    fn is_stale(&self, id: &Uuid, entry: &Entry) -> bool {
        // Nothing was invalidated since the load began: the common case under a read
        // load, answered without a lookup.
        if self.epoch.load(Ordering::SeqCst) == entry.loaded_at {
            return false;
        }
        entry.loaded_at < self.cleared_at.load(Ordering::SeqCst)
            || self
                .invalidated
                .get(id)
                .is_some_and(|epoch| epoch > entry.loaded_at)
    }

    /// The rendered user with `id`, from the cache or from `load`.
    pub async fn get_or_load<F, Fut>(&self, id: Uuid, load: F) -> Result<Option<Bytes>, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, StoreError>>,
    {
        // Fast path: a present, fresh entry, without setting up a coalesced load.
        if let Some(entry) = self.entries.get(&id).await
            && !self.is_stale(&id, &entry)
        {
            metrics::counter!("cache_hits_total").increment(1);
            return Ok(Some(entry.body.clone()));
        }
        // A second stale entry in a row means writes are racing reads of this id; the
        // third try goes to the database directly.
        for _ in 0..2 {
            let loaded = AtomicBool::new(false);
            let loaded_at = self.epoch.load(Ordering::SeqCst);
            let result = self
                .entries
                .try_get_with(id, async {
                    loaded.store(true, Ordering::Relaxed);
                    match load().await {
                        Ok(Some(body)) => Ok(Arc::new(Entry { body, loaded_at })),
                        Ok(None) => Err(Miss::NotFound),
                        Err(StoreError::Read(kit::db::pipelined::ReadError::Unavailable)) => {
                            Err(Miss::Unavailable)
                        }
                        Err(error) => Err(Miss::Failed(error.to_string())),
                    }
                })
                .await;
            let counter = if loaded.load(Ordering::Relaxed) {
                "cache_misses_total"
            } else {
                "cache_hits_total"
            };
            metrics::counter!(counter).increment(1);
            match result {
                Ok(entry) if self.is_stale(&id, &entry) => {
                    self.entries.invalidate(&id).await;
                }
                Ok(entry) => return Ok(Some(entry.body.clone())),
                Err(miss) => {
                    return match miss.as_ref() {
                        Miss::NotFound => Ok(None),
                        Miss::Unavailable => {
                            Err(StoreError::Read(kit::db::pipelined::ReadError::Unavailable))
                        }
                        Miss::Failed(message) => Err(StoreError::Cache(message.clone())),
                    };
                }
            }
        }
        load().await
    }

    /// Forgets `id`; later loads that began before this call are not trusted.
    pub async fn invalidate(&self, id: Uuid) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.invalidated.insert(id, epoch);
        self.entries.invalidate(&id).await;
        metrics::counter!("cache_invalidations_total").increment(1);
    }

    /// Forgets everything (notifications may have been missed).
    pub fn clear(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.cleared_at.store(epoch, Ordering::SeqCst);
        self.entries.invalidate_all();
        metrics::counter!("cache_invalidations_total").increment(1);
    }
}
