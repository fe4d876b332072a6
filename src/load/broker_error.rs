//! How load words a broker failure: which step failed, with lapin's error as
//! the source, and AMQP names that do not fit a short string.

use super::LoadError;
use crate::broker;

/// Maps a lapin error of the step `context` into a [`LoadError`].
pub fn broker(context: impl Into<String>) -> impl FnOnce(lapin::Error) -> LoadError {
    let context = context.into();
    move |source| LoadError::Broker { context, source }
}

/// `text` as an AMQP short string, or the error naming it.
pub fn name(text: &str) -> Result<lapin::types::ShortString, LoadError> {
    broker::short(text).map_err(|source| LoadError::Name {
        name: text.to_owned(),
        source,
    })
}
