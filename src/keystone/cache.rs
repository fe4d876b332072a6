//! The validation cache: successes only, keyed by the token's SHA-256 (never
//! the token), each entry kept at most `token_cache_time` and never past the
//! token's `expires_at`, bounded in size (least recently used goes first).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use time::OffsetDateTime;

use super::client::TokenInfo;

use crate::support::plain_lock;

/// A cache key: the token's SHA-256 and whether an expired token was allowed.
pub type Key = ([u8; 32], bool);

struct Entry {
    info: Arc<TokenInfo>,
    until: Instant,
}

/// Bounded map of validated tokens.
pub struct Cache {
    lifetime: Duration,
    entries: Mutex<LruCache<Key, Entry>>,
}

impl Cache {
    pub fn new(lifetime: Duration, size: usize) -> Self {
        let size = NonZeroUsize::new(size).unwrap_or(NonZeroUsize::MIN);
        Self {
            lifetime,
            entries: Mutex::new(LruCache::new(size)),
        }
    }

    /// A live entry, or `None` (and a stale one is dropped).
    pub fn get(&self, key: &Key) -> Option<Arc<TokenInfo>> {
        let mut entries = plain_lock::lock(&self.entries);
        let entry = entries.get(key)?;
        if entry.until > Instant::now() {
            return Some(entry.info.clone());
        }
        entries.pop(key);
        None
    }

    /// Keeps `info` for min(lifetime, time left before it expires).
    pub fn put(&self, key: Key, info: Arc<TokenInfo>) {
        let Some(until) = until(self.lifetime, info.expires_at, OffsetDateTime::now_utc()) else {
            return;
        };
        let mut entries = plain_lock::lock(&self.entries);
        entries.put(key, Entry { info, until });
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// When an entry made now must go; `None` when it must not be kept at all.
fn until(lifetime: Duration, expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<Instant> {
    let left = Duration::try_from(expires_at - now).unwrap_or(Duration::ZERO);
    let keep = lifetime.min(left);
    if keep.is_zero() {
        return None;
    }
    Some(Instant::now() + keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(expires_in: time::Duration) -> Arc<TokenInfo> {
        Arc::new(TokenInfo {
            roles: vec!["admin".into()],
            user_id: None,
            project_id: None,
            expires_at: OffsetDateTime::now_utc() + expires_in,
        })
    }

    #[test]
    fn zero_lifetime_keeps_nothing() {
        let cache = Cache::new(Duration::ZERO, 4);
        cache.put(([1; 32], false), info(time::Duration::hours(1)));
        assert!(cache.get(&([1; 32], false)).is_none());
    }

    #[test]
    fn expired_tokens_are_not_kept() {
        let cache = Cache::new(Duration::from_secs(300), 4);
        cache.put(([1; 32], false), info(time::Duration::seconds(-5)));
        assert!(cache.get(&([1; 32], false)).is_none());
    }

    #[test]
    fn entries_never_outlive_the_token() {
        let now = OffsetDateTime::now_utc();
        let keep = until(
            Duration::from_secs(300),
            now + time::Duration::seconds(10),
            now,
        )
        .expect("kept");
        assert!(keep <= Instant::now() + Duration::from_secs(10));
    }

    #[test]
    fn size_is_bounded() {
        let cache = Cache::new(Duration::from_secs(300), 2);
        for i in 0..3u8 {
            cache.put(([i; 32], false), info(time::Duration::hours(1)));
        }
        assert!(cache.get(&([0; 32], false)).is_none());
        assert!(cache.get(&([2; 32], false)).is_some());
    }
}
