//! What a batch lookup says about each server: placed (herald's own
//! directory), an instance row (Nova mode), not yet in a cell, or behind a
//! database that did not answer. A server the directory does not know (or
//! does not show this caller) is simply absent.

use std::collections::HashMap;
use std::sync::Arc;

use super::nova::NovaServer;
use crate::model::{Placement, ServerId};

/// What the directory says about one server of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// herald's own directory (SQLite, PostgreSQL): where the server is.
    Placed(Placement),
    /// Nova mode: the instance row the caller may see, and its cell.
    Nova(Arc<NovaServer>),
    /// Nova mode: mapped, but in no cell yet (still being scheduled):
    /// nowhere to deliver, 422 (nova-api answers 500 for the whole request).
    Unscheduled,
    /// Nova mode: the server's cell database did not answer, or holds a row
    /// herald cannot use: 503 for its events only.
    Unavailable,
}

impl Found {
    /// Where herald's own wire delivers (no host: 422); `None` when the
    /// directory could not say (503).
    pub fn placement(&self) -> Option<Placement> {
        match self {
            Self::Placed(placement) => Some(placement.clone()),
            Self::Nova(server) => Some(server.placement()),
            Self::Unscheduled => Some(Placement {
                host: None,
                migration: None,
            }),
            Self::Unavailable => None,
        }
    }
}

/// A batch's answer: what was found, by server; the others are unknown.
pub type Lookup = HashMap<ServerId, Found>;
