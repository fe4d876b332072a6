//! Nova mode with Keystone: the caller's project is its token's, so a
//! `service` user sees its Keystone project's servers only, and an `admin`
//! one every project's.

use std::time::Duration;

use serde_json::json;

use herald::api::auth_config::AuthMode;

use super::cloud::NovaCloud;
use super::table::{nova_mode, post};
use crate::keystone::fixture::{Fixture, keystone_url};

/// Needs the run's Keystone (a visible skip without it, a failure under CI).
pub async fn run(cloud: &NovaCloud, uuid: &dyn Fn(&str) -> String) {
    let Some((url, admin_password)) = keystone_url() else {
        return;
    };
    let mut f = Fixture::new(&url, &admin_password).await;
    let made = cloud
        .rows(&json!({"instances": [
            {"key": "KS", "cell": "cell1", "host": "cmp-1", "project_id": f.project_id}
        ]}))
        .await;
    let ours = made["instances"]["KS"]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let (user, password) = f.user(&["service"]).await;
    let project = f.project.clone();
    let mut app = crate::support::TestApp::spawn_with(|c| {
        nova_mode(c, cloud);
        c.auth.mode = AuthMode::Keystone;
        c.keystone.auth_url = url.clone();
        c.keystone.username = user;
        c.keystone.password = password;
        c.keystone.project_name = project;
        c.keystone.request_timeout = Duration::from_secs(30);
    })
    .await;
    app.wait_ready().await;
    app.bind_host("cmp-1").await;
    let events = json!({"events": [
        {"name": "network-vif-plugged", "server_uuid": ours, "tag": "ours"},
        {"name": "network-vif-plugged", "server_uuid": uuid("A"), "tag": "p1s"},
    ]});
    let service = f.user_token(&["service"]).await;
    assert_eq!(post(&app, &events, &service).await, [200, 404], "service");
    let admin = f.user_token(&["admin", "service"]).await;
    assert_eq!(post(&app, &events, &admin).await, [200, 200], "admin");
    app.stop().await;
    f.cleanup().await;
}
