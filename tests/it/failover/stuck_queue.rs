//! A host whose confirms stall holds up no other host. On a test-owned
//! node, two hosts' queue processes are suspended (`sys:suspend`), so
//! messages routed to them are never confirmed. After each has timed out
//! once, their next requests publish alone, and a request for a third
//! host is answered 200 while both are still waiting: with the stalled
//! hosts in the two coalescing rounds it could not be answered before
//! their confirm timeout. Once the queues resume, the stalled hosts'
//! events are answered 200 again.

use std::sync::Arc;
use std::time::Duration;

use super::driver::{bind_queue, serve_on};
use crate::broker_node::{BrokerNode, OwnNode};
use crate::support::{TestApp, event_for, new_uuid};

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(4);

/// The event's code in a reply.
async fn code_of(app: &TestApp, server: &str) -> u64 {
    let reply = app.post_events(&event_for(server), &[]).await;
    reply.body["events"][0]["code"].as_u64().expect("a code")
}

/// Suspends or resumes the queue's process on the node.
fn queue_process(node: &BrokerNode, queue: &str, call: &str) {
    let eval = format!(
        "{{ok, Q}} = rabbit_amqqueue:lookup(rabbit_misc:r(<<\"/\">>, queue, <<\"{queue}\">>)), \
         sys:{call}(amqqueue:get_pid(Q))."
    );
    node.ctl(&["eval", &eval]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_confirms_stall_holds_up_no_other_host() {
    let own = OwnNode::start().await;
    let app = serve_on(own.node.url().into(), |c| {
        c.dispatch.confirm_timeout = CONFIRM_TIMEOUT;
    })
    .await;
    let conn = own.node.connect().await;
    let (stuck_a, stuck_b, live) = (new_uuid(), new_uuid(), new_uuid());
    let mut stalled = Vec::new();
    for (server, host) in [
        (&stuck_a, "stuck-a"),
        (&stuck_b, "stuck-b"),
        (&live, "live"),
    ] {
        app.put_server(server, Some(host), None).await;
        let queue = bind_queue(&conn, &app, host, false).await;
        if host != "live" {
            stalled.push(queue);
        }
    }
    assert_eq!(code_of(&app, &live).await, 200, "before anything stalls");
    for queue in &stalled {
        queue_process(&own.node, queue, "suspend");
    }
    let app = Arc::new(app);

    // Each stalled host times out once, and is then suspect.
    let (a, b) = tokio::join!(code_of(&app, &stuck_a), code_of(&app, &stuck_b));
    assert_eq!((a, b), (503, 503), "no confirm within the timeout");

    // Their next messages await confirms that will not come...
    let waiting: Vec<_> = [stuck_a.clone(), stuck_b.clone()]
        .into_iter()
        .map(|server| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { code_of(&app, &server).await })
        })
        .collect();
    app.wait_metric("herald_messages_unconfirmed 2").await;
    // ...and another host's request is answered meanwhile.
    assert_eq!(code_of(&app, &live).await, 200);
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "the live host was answered while both stalled hosts still waited"
    );

    for queue in &stalled {
        queue_process(&own.node, queue, "resume");
    }
    for w in waiting {
        let code = w.await.unwrap();
        assert!(code == 200 || code == 503, "answered {code}");
    }
    let (a, b) = tokio::join!(code_of(&app, &stuck_a), code_of(&app, &stuck_b));
    assert_eq!((a, b), (200, 200), "resumed queues confirm again");
    assert_eq!(code_of(&app, &live).await, 200);
    drop(conn);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}
