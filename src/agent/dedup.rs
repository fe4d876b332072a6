//! Remembers the ids of messages already handed on, so that a redelivery
//! (after a lost ack, a reconnect or a dead agent) is acked and dropped
//! instead of handed on twice. Bounded: the least recently seen id goes first.
//! With a journal (`agent.dedup_path`, see [`super::dedup_journal`]) the
//! memory outlives the process.

use std::num::NonZeroUsize;
use std::path::Path;

use lru::LruCache;

use super::dedup_journal::{DedupJournal, JournalError};

/// A bounded set of handled message ids.
#[derive(Debug)]
pub struct Dedup {
    seen: LruCache<String, ()>,
    journal: Option<DedupJournal>,
}

impl Dedup {
    /// Remembers at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            seen: LruCache::new(capacity),
            journal: None,
        }
    }

    /// Like [`Dedup::new`], kept in the journal at `path`: the ids already
    /// there are remembered (the newest `capacity`), the file is rewritten
    /// with them, and each id remembered from now on is appended.
    pub fn with_journal(capacity: usize, path: &Path) -> Result<Self, JournalError> {
        let mut dedup = Self::new(capacity);
        for id in DedupJournal::load(path)? {
            dedup.seen.put(id, ());
        }
        dedup.journal = Some(DedupJournal::create(
            path,
            oldest_first(&dedup.seen),
            dedup.seen.cap().get(),
        )?);
        Ok(dedup)
    }

    /// Whether `message_id` was handed on before. A hit counts as a use, so
    /// an id that keeps coming back stays remembered.
    pub fn already_handled(&mut self, message_id: &str) -> bool {
        self.seen.get(message_id).is_some()
    }

    /// Records that `message_id` was handed on (and appends it to the
    /// journal, if any; a failing journal is logged, not returned).
    pub fn remember(&mut self, message_id: String) {
        match &mut self.journal {
            None => {
                self.seen.put(message_id, ());
            }
            Some(journal) => {
                self.seen.put(message_id.clone(), ());
                let seen = &self.seen;
                journal.append(&message_id, || oldest_first(seen));
            }
        }
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

/// The remembered ids, least recently seen first (the journal's order).
fn oldest_first(seen: &LruCache<String, ()>) -> impl Iterator<Item = &str> {
    seen.iter().rev().map(|(id, ())| id.as_str())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

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
    fn a_journal_keeps_the_newest_ids_across_a_restart() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("dedup");
        {
            let mut d = Dedup::with_journal(3, &path)?;
            for id in ["a", "b", "c", "d", "e"] {
                d.remember(id.into());
            }
        }
        // A kill mid-append leaves a torn last line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(b"\"tor")?;
        let mut d = Dedup::with_journal(3, &path)?;
        assert_eq!(d.len(), 3);
        assert!(!d.already_handled("b"));
        for id in ["c", "d", "e"] {
            assert!(d.already_handled(id), "{id} forgotten");
        }
        // Compacted at start: the newest three, oldest first.
        let text = std::fs::read_to_string(&path)?;
        assert_eq!(text, "\"c\"\n\"d\"\n\"e\"\n");
        Ok(())
    }

    #[test]
    fn zero_capacity_still_works() {
        let mut d = Dedup::new(0);
        d.remember("a".into());
        assert!(d.already_handled("a"));
    }
}
