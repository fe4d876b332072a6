//! The deployed callers' own stack against herald in keystone mode: Keystone's
//! catalog names herald as `compute`; python-novaclient on a keystoneauth
//! Password session (Neutron's nova notifier) and openstacksdk with a
//! password cloud config find it there and send Keystone tokens
//! (`tests/clients/keystone_callers.py`).

use std::time::Duration;

use super::fixture::{Fixture, herald};
use crate::support::parts::{self, require, run_client_script};
use crate::support::unique_name;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novaclient_and_openstacksdk_find_herald_in_the_catalog() {
    let keystone = require!(parts::keystone());
    let python = require!(parts::python());
    let mut f = Fixture::new(&keystone).await;
    let mut app = herald(&mut f, Duration::from_secs(300), None).await;
    app.wait_ready().await;
    let host = format!("compute-{}", &unique_name()[12..]);
    app.bind_host(&host).await;
    let region = f
        .compute_endpoint(&format!("http://{}/v2.1", app.addr))
        .await;
    let (caller, caller_password) = f.user(&["service"]).await;
    let (member, member_password) = f.user(&["member"]).await;

    let args = [
        ["--auth-url", &f.url],
        ["--region", &region],
        ["--project", &f.project],
        ["--user", &caller],
        ["--password", &caller_password],
        ["--member-user", &member],
        ["--member-password", &member_password],
        ["--host", &host],
    ];
    let args: Vec<&str> = args.concat();
    let limit = Duration::from_secs(180);
    let status = run_client_script(&python, "keystone_callers.py", &args, limit).await;
    app.stop().await;
    f.cleanup().await;
    assert!(
        status.success(),
        "keystone_callers.py failed ({status}); its output is above"
    );
}
