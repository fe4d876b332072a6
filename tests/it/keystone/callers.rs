//! The deployed callers' own stack against herald in keystone mode: Keystone's
//! catalog names herald as `compute`; python-novaclient on a keystoneauth
//! Password session (Neutron's nova notifier) and openstacksdk with a
//! password cloud config find it there and send Keystone tokens
//! (`tests/clients/keystone_callers.py`).

use std::process::Stdio;
use std::time::Duration;

use super::fixture::{Fixture, herald, keystone_url};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/clients/keystone_callers.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn novaclient_and_openstacksdk_find_herald_in_the_catalog() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    let python = std::env::var("HERALD_TEST_PYTHON")
        .expect("HERALD_TEST_PYTHON is not set: run scripts/test.sh");
    let mut f = Fixture::new(&url, &admin).await;
    let mut app = herald(&mut f, Duration::from_secs(300), None).await;
    app.wait_ready().await;
    let host = format!("compute-{}", uuid::Uuid::new_v4().simple());
    app.bind_host(&host).await;
    let region = f
        .compute_endpoint(&format!("http://{}/v2.1", app.addr))
        .await;
    let (caller, caller_password) = f.user(&["service"]).await;
    let (member, member_password) = f.user(&["member"]).await;

    let mut child = tokio::process::Command::new(&python)
        .arg(SCRIPT)
        .args(["--auth-url", &f.url])
        .args(["--region", &region])
        .args(["--project", &f.project])
        .args(["--user", &caller, "--password", &caller_password])
        .args([
            "--member-user",
            &member,
            "--member-password",
            &member_password,
        ])
        .args(["--host", &host])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python callers");
    let status = tokio::time::timeout(Duration::from_secs(180), child.wait())
        .await
        .expect("the callers finish within 3 minutes")
        .expect("wait for the callers");
    app.stop().await;
    f.cleanup().await;
    assert!(
        status.success(),
        "keystone_callers.py failed ({status}); its output is above"
    );
}
