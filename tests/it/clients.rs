//! Real OpenStack clients against a real `herald serve`: the built binary on
//! a free port with a throw-away config (SQLite in a temp dir, the test's own
//! exchange on the local RabbitMQ), a queue bound for one compute host so
//! that its events can be confirmed, driven by `tests/clients/nova_clients.py`
//! (python-novaclient and openstacksdk) with the interpreter that
//! `scripts/test.sh` sets up in `HERALD_TEST_PYTHON`.

use std::time::Duration;

use herald::broker::Topology;
use lapin::types::FieldTable;

use crate::support::parts::{self, require, run_client_script};
use crate::support::{
    ADMIN_TOKEN, BrokerCleanup, HeraldChild, bind_queue, broker, serve_config, unique_name,
};

const CLIENTS_DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novaclient_and_openstacksdk_drive_herald() {
    let python = require!(parts::python());
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = serve_config(dir.path());
    let host = format!("compute-{}", &unique_name()[12..]);
    let mut cleanup = BrokerCleanup::exchange(&config.amqp.exchange);
    let mut serve = HeraldChild::serve(&config);
    // Ready: connected, so the exchange exists and the host's queue can be
    // bound to it, and the broker routes (and confirms) the host's events.
    let addr = serve.wait_ok("/readyz").await;
    let conn = broker().await;
    let topology = Topology::new(&config.amqp);
    cleanup.queue(&bind_queue(&conn, &topology, &host, false, FieldTable::default()).await);
    let _ = conn.close(200, "bound".into()).await;

    let url = format!("http://{addr}");
    let args = ["--url", &url, "--token", ADMIN_TOKEN, "--host", &host];
    let status = run_client_script(&python, "nova_clients.py", &args, CLIENTS_DEADLINE).await;
    assert!(
        status.success(),
        "nova_clients.py failed ({status}); its output is above"
    );
    let exit = serve.stop().await;
    assert!(
        exit.success(),
        "herald serve did not exit 0 on SIGTERM: {exit}"
    );
    cleanup.clean().await;
}
