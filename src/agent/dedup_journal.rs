//! The on-disk journal behind the agent's dedup memory (`agent.dedup_path`),
//! so that an id handled but not yet acked when the agent was killed is still
//! a duplicate after a restart.
//!
//! Format: one JSON-encoded `message_id` per line, oldest first. Each id is
//! appended (no fsync) right after it was handed on and before the ack, so
//! it survives a killed process but not a host crash. At start the file is
//! read (a torn last line is skipped) and rewritten compacted; when it grows
//! past twice the memory's capacity it is rewritten from the memory,
//! oldest first, through a temporary file that is fsynced and renamed over it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::support::error_chain::error_chain;

/// Why the journal could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("agent.dedup_path {}: {action}", path.display())]
pub struct JournalError {
    path: PathBuf,
    action: &'static str,
    #[source]
    source: io::Error,
}

/// An open journal, appended to as ids are handled.
#[derive(Debug)]
pub struct DedupJournal {
    path: PathBuf,
    file: File,
    /// Lines in the file now (compacted lines plus appends).
    lines: usize,
    /// Rewrite when `lines` passes this.
    compact_above: usize,
    /// A write failed and has not been followed by a successful rewrite.
    failing: bool,
}

/// The ids in a journal's text, oldest first. Lines that are not a JSON
/// string (a torn last line after a kill) are skipped and counted.
pub(crate) fn parse(text: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        match serde_json::from_str::<String>(line) {
            Ok(id) => ids.push(id),
            Err(_) => skipped += 1,
        }
    }
    (ids, skipped)
}

/// The journal text for `ids`, oldest first.
pub(crate) fn encode<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for id in ids {
        push_line(&mut text, id);
    }
    text
}

fn push_line(text: &mut String, id: &str) {
    // A `&str` always serializes; the fallback keeps this panic-free.
    text.push_str(&serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into()));
    text.push('\n');
}

impl DedupJournal {
    /// Reads the ids at `path` (a missing file is empty), oldest first.
    pub fn load(path: &Path) -> Result<Vec<String>, JournalError> {
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(error(path, "reading", source)),
        };
        let (ids, skipped) = parse(&text);
        if skipped > 0 {
            tracing::warn!(path = %path.display(), skipped, "dedup journal: unreadable lines skipped");
        }
        Ok(ids)
    }

    /// Rewrites `path` with `ids` (oldest first) and opens it for appending.
    /// `capacity` is the dedup memory's: the file is compacted past twice it.
    pub fn create<'a>(
        path: &Path,
        ids: impl IntoIterator<Item = &'a str>,
        capacity: usize,
    ) -> Result<Self, JournalError> {
        let lines = rewrite(path, ids)?;
        let file = open_append(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            lines,
            compact_above: capacity.saturating_mul(2).max(1),
            failing: false,
        })
    }

    /// Appends `id`. `memory` yields all remembered ids oldest first; it is
    /// used when the file is due for compaction or a write failed before.
    /// Failures are logged (once when they start, once when they stop) and
    /// otherwise ignored: the memory goes on without the file.
    pub fn append<'a, F, I>(&mut self, id: &str, memory: F)
    where
        F: FnOnce() -> I,
        I: IntoIterator<Item = &'a str>,
    {
        let result = if self.failing || self.lines >= self.compact_above {
            self.compact(memory())
        } else {
            let mut line = String::with_capacity(id.len() + 3);
            push_line(&mut line, id);
            self.file
                .write_all(line.as_bytes())
                .and_then(|()| self.file.flush())
                .map(|()| self.lines += 1)
                .map_err(|source| error(&self.path, "appending", source))
        };
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(path = %self.path.display(), "dedup journal writable again");
            }
            Ok(()) => {}
            Err(error) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %error_chain(&error), "dedup journal not writable; remembering in memory only");
            }
            Err(_) => {}
        }
    }

    fn compact<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Result<(), JournalError> {
        self.lines = rewrite(&self.path, ids)?;
        self.file = open_append(&self.path)?;
        Ok(())
    }

    /// Lines in the file now.
    pub fn lines(&self) -> usize {
        self.lines
    }
}

fn error(path: &Path, action: &'static str, source: io::Error) -> JournalError {
    JournalError {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Writes `ids` to a temporary file beside `path`, fsyncs it and renames it
/// over `path`. Returns the number of lines.
fn rewrite<'a>(path: &Path, ids: impl IntoIterator<Item = &'a str>) -> Result<usize, JournalError> {
    let text = encode(ids);
    let lines = text.bytes().filter(|&b| b == b'\n').count();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|source| error(path, "rewriting", source))?;
    Ok(lines)
}

fn open_append(path: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| error(path, "opening", source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_skipped() {
        let text = "\"a\"\n\"b\"\n\"c";
        let (ids, skipped) = parse(text);
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(skipped, 1);
    }

    #[test]
    fn ids_round_trip_through_the_format() {
        let ids = ["plain", "with \"quote\"", "new\nline", "ünï"];
        let (back, skipped) = parse(&encode(ids));
        assert_eq!(back, ids);
        assert_eq!(skipped, 0);
    }

    #[test]
    fn a_missing_file_loads_empty() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        assert!(DedupJournal::load(&dir.path().join("none"))?.is_empty());
        Ok(())
    }

    #[test]
    fn compaction_rewrites_the_memory_oldest_first() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("dedup");
        let mut journal = DedupJournal::create(&path, ["a", "b"], 2)?;
        journal.append("c", || ["a", "b", "c"]);
        journal.append("d", || ["a", "b", "c", "d"]);
        assert_eq!(journal.lines(), 4);
        assert_eq!(DedupJournal::load(&path)?, ["a", "b", "c", "d"]);
        // Past 2 × capacity: the file becomes the memory.
        journal.append("e", || ["d", "e"]);
        assert_eq!(journal.lines(), 2);
        assert_eq!(DedupJournal::load(&path)?, ["d", "e"]);
        journal.append("f", || ["e", "f"]);
        assert_eq!(DedupJournal::load(&path)?, ["d", "e", "f"]);
        Ok(())
    }
}
