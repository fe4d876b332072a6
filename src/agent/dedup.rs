//! Remembers the ids of messages already handed on, so that a redelivery
//! (after a lost ack, a reconnect or a dead agent) is acked and dropped
//! instead of handed on twice. Bounded: the least recently seen id goes first.

use std::num::NonZeroUsize;

use lru::LruCache;

/// A bounded set of handled message ids.
#[derive(Debug)]
pub struct Dedup {
    seen: LruCache<String, ()>,
}

impl Dedup {
    /// Remembers at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            seen: LruCache::new(capacity),
        }
    }

    /// Whether `message_id` was handed on before. A hit counts as a use, so
    /// an id that keeps coming back stays remembered.
    pub fn already_handled(&mut self, message_id: &str) -> bool {
        self.seen.get(message_id).is_some()
    }

    /// Records that `message_id` was handed on.
    pub fn remember(&mut self, message_id: String) {
        self.seen.put(message_id, ());
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_id_is_a_duplicate() {
        let mut d = Dedup::new(4);
        assert!(!d.already_handled("a"));
        d.remember("a".into());
        assert!(d.already_handled("a"));
        assert!(!d.already_handled("b"));
    }

    #[test]
    fn memory_is_bounded_and_evicts_the_least_recent() {
        let mut d = Dedup::new(2);
        d.remember("a".into());
        d.remember("b".into());
        assert!(d.already_handled("a")); // a is now more recent than b
        d.remember("c".into());
        assert_eq!(d.len(), 2);
        assert!(d.already_handled("a"));
        assert!(!d.already_handled("b"));
        assert!(d.already_handled("c"));
    }

    #[test]
    fn zero_capacity_still_works() {
        let mut d = Dedup::new(0);
        d.remember("a".into());
        assert!(d.already_handled("a"));
    }
}
