//! How events are handed on. A [`Handler`] gets each delivered message once
//! it is decoded and not a duplicate; the message is acked only after the
//! handler returned `Ok`. The default, [`StdoutHandler`], writes one JSON
//! line per event to stdout.

use std::future::Future;
use std::io::Write;

use super::event::{Delivered, ReceivedEvent};

/// Why a handler could not hand a message on. The message is requeued once
/// and dead-lettered (or dropped) when it fails again.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Receives each delivered message. Implement it to embed the agent with
/// your own hand-on; or wrap an async closure with [`handler_fn`].
pub trait Handler: Send + Sync + 'static {
    /// Hands the events of one message on. Messages come one at a time, in
    /// delivery order.
    fn handle(
        &self,
        delivered: &Delivered,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Writes each event as one JSON line on stdout, flushed per message.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutHandler;

impl Handler for StdoutHandler {
    async fn handle(&self, delivered: &Delivered) -> Result<(), HandlerError> {
        let lines = json_lines(&delivered.events);
        // A blocking write: stdout is usually fast, and when its reader stalls
        // the agent should stall too (nothing is acked that was not written).
        let write = || {
            let mut out = std::io::stdout().lock();
            out.write_all(&lines)?;
            out.flush()
        };
        if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(write)?;
        } else {
            write()?;
        }
        Ok(())
    }
}

/// The stdout lines of a message's events, concatenated.
pub fn json_lines(events: &[std::sync::Arc<ReceivedEvent>]) -> Vec<u8> {
    events.iter().flat_map(|e| e.to_json_line()).collect()
}

/// A [`Handler`] made of an async closure; see [`handler_fn`].
#[derive(Debug, Clone)]
pub struct FnHandler<F>(F);

/// Wraps `f(delivered) -> impl Future<Output = Result<(), HandlerError>>` as
/// a [`Handler`]. The closure gets its own (cheap) clone of the message.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Delivered) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    FnHandler(f)
}

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Delivered) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(
        &self,
        delivered: &Delivered,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostName;
    use crate::wire::{Message, WireEvent};

    fn delivered(n: usize) -> Delivered {
        let event = WireEvent {
            name: crate::model::EventName::NetworkChanged,
            server_uuid: crate::model::ServerId::parse("3df201cf-2451-44f2-8d25-a4ca826fc1f3")
                .unwrap(),
            status: crate::model::EventStatus::Failed,
            tag: None,
        };
        let message = Message {
            version: 1,
            message_id: "m".into(),
            request_id: "req-1".into(),
            global_request_id: None,
            host: HostName::parse("h").unwrap(),
            sent_at: "t".into(),
            events: vec![event; n],
        };
        Delivered::new(
            crate::wire::decode(&message.encode()).unwrap(),
            false,
            "now".into(),
        )
    }

    #[test]
    fn one_line_per_event() {
        let text = String::from_utf8(json_lines(&delivered(3).events)).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["status"], "failed");
        }
    }

    #[tokio::test]
    async fn closures_are_handlers() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let h = handler_fn(move |d: Delivered| {
            let tx = tx.clone();
            async move {
                tx.send(d.meta.message_id)?;
                Ok(())
            }
        });
        h.handle(&delivered(1)).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), "m");
    }
}
