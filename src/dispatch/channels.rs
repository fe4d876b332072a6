//! A deadpool of long-lived confirm-mode channels on one broker connection.
//!
//! Opening a channel and selecting confirms costs two round trips, so
//! publishing borrows a ready channel instead. A channel that saw an error
//! or still has unresolved confirms is taken out of the pool and closed,
//! not returned, even when the request that borrowed it went away.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use lapin::options::ConfirmSelectOptions;

/// Creates confirm-mode channels on `conn`; recycles only open ones.
#[derive(Debug)]
pub struct ChannelManager {
    conn: Arc<lapin::Connection>,
}

impl managed::Manager for ChannelManager {
    type Type = lapin::Channel;
    type Error = lapin::Error;

    async fn create(&self) -> Result<lapin::Channel, lapin::Error> {
        let channel = self.conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions { nowait: false })
            .await?;
        Ok(channel)
    }

    async fn recycle(
        &self,
        channel: &mut lapin::Channel,
        _: &Metrics,
    ) -> RecycleResult<lapin::Error> {
        if channel.status().connected() {
            Ok(())
        } else {
            Err(RecycleError::message("channel is no longer open"))
        }
    }
}

/// The pool type.
pub type ChannelPool = managed::Pool<ChannelManager>;
/// A borrowed channel; dropping it returns it to the pool.
pub type PooledChannel = managed::Object<ChannelManager>;

/// Builds a pool of at most `size` channels; `wait` bounds how long a
/// request may wait for one.
pub fn pool(
    conn: Arc<lapin::Connection>,
    size: usize,
    wait: Duration,
    create: Duration,
) -> ChannelPool {
    managed::Pool::builder(ChannelManager { conn })
        .max_size(size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(create))
        .recycle_timeout(Some(create))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a runtime is set, so building the pool cannot fail")
}

/// Takes `channel` out of the pool for good and closes it in the background
/// (lapin does not close a dropped channel): its unresolved confirms must
/// never reach another borrower, and it must not stay open on the connection.
pub fn discard(channel: PooledChannel) {
    let channel = PooledChannel::take(channel);
    if channel.status().connected() {
        tokio::spawn(async move {
            let _ = channel.close(200, "discarded".into()).await;
        });
    }
}

/// A borrowed channel that goes back to the pool only once [`Self::settle`]
/// says every confirm on it was resolved. Dropped unsettled (the request
/// that held it went away mid-confirm, or a confirm never came), it is
/// discarded instead.
pub struct Borrowed {
    channel: Option<PooledChannel>,
    settled: bool,
}

impl Borrowed {
    pub fn new(channel: PooledChannel) -> Self {
        Self {
            channel: Some(channel),
            settled: false,
        }
    }

    /// Every confirm on the channel was answered: it may be reused.
    pub fn settle(mut self) {
        self.settled = true;
    }
}

impl std::ops::Deref for Borrowed {
    type Target = lapin::Channel;

    fn deref(&self) -> &lapin::Channel {
        self.channel.as_ref().expect("present until dropped")
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take()
            && !self.settled
        {
            discard(channel);
        }
    }
}
