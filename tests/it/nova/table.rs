//! Contract §8's table against one cloud: per event code and target hosts,
//! for an admin, a `service` caller of project `p1` and one of project
//! `service`; a cell whose database is down; noauth's `user:project`
//! callers; the lookup's Nova fields; `check-config`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use herald::api::auth_config::{AuthMode, TokenConfig};
use herald::config::Config;
use herald::directory::config::DirectoryBackend;
use herald::directory::{Directory, Found};
use herald::model::{Caller, HostName, ServerId};

use super::cloud::{Db, NovaCloud, caller_token};
use super::world::{self, CASES, HOSTS};
use crate::support::{TestApp, drain, new_uuid};

const ADMIN: &str = "nova-admin";
const MEMBER: &str = "nova-member-p1";
const SERVICE: &str = "nova-service";

pub async fn run(db: Db) {
    let Some(cloud) = NovaCloud::create(db, 2, &world::rows()).await else {
        return;
    };
    let unknown = new_uuid();
    let uuid = |key: &str| {
        if key == "G" {
            unknown.clone()
        } else {
            cloud.uuid(key)
        }
    };
    let started = std::time::Instant::now();
    lookup_hands_on_the_rows(&cloud).await;
    codes_and_hosts(&cloud, &uuid).await;
    a_cell_database_down(&cloud, &uuid).await;
    noauth_callers(&cloud, &uuid).await;
    check_config(&cloud).await;
    if db == Db::Mariadb {
        // Keystone's callers are the same on either database: once is enough.
        super::keystone_callers::run(&cloud, &uuid).await;
    }
    eprintln!(
        "nova table on {db:?}: cases run in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn token(value: &str, roles: &[&str], project: &str) -> TokenConfig {
    caller_token(value, roles, &format!("{value}-user"), project)
}

pub fn nova_mode(config: &mut Config, cloud: &NovaCloud) {
    cloud.directory_of(config);
    config.directory.acquire_timeout = Duration::from_secs(5);
    // One message per host per request: what each host got is exact.
    config.dispatch.coalesce = false;
    config.auth.tokens.extend([
        token(ADMIN, &["admin", "service"], "service"),
        token(MEMBER, &["service"], "p1"),
        token(SERVICE, &["service"], "service"),
    ]);
}

fn batch(uuid: &dyn Fn(&str) -> String) -> Value {
    let events: Vec<Value> = CASES
        .iter()
        .map(|c| {
            let mut e = json!({"name": c.name, "server_uuid": uuid(c.key)});
            if let Some(tag) = c.tag {
                e["tag"] = json!(tag);
            }
            e
        })
        .collect();
    json!({ "events": events })
}

pub async fn post(app: &TestApp, body: &Value, token: &str) -> Vec<u16> {
    let headers = [
        ("x-auth-token", token),
        ("openstack-api-version", "compute 2.51"),
    ];
    let reply = app.post_events(body, &headers).await;
    assert!(
        reply.status.as_u16() == 207 || reply.status.as_u16() == 200,
        "{reply:?}"
    );
    reply.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["code"].as_u64().expect("code") as u16)
        .collect()
}

/// Which hosts each tagged event reached (every queue drained).
async fn arrivals(queues: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (host, queue) in queues {
        for message in drain(queue, 0).await {
            let body: Value = serde_json::from_slice(&message.data).expect("json body");
            for event in body["events"].as_array().expect("events") {
                let tag = event["tag"].as_str().expect("tagged").to_owned();
                got.entry(tag).or_default().insert(host.clone());
            }
        }
    }
    got
}

async fn codes_and_hosts(cloud: &NovaCloud, uuid: &dyn Fn(&str) -> String) {
    let mut app = TestApp::spawn_with(|c| nova_mode(c, cloud)).await;
    app.wait_ready().await;
    let mut queues = Vec::new();
    for host in HOSTS {
        queues.push((host.to_owned(), app.bind_host(host).await));
    }
    let body = batch(uuid);
    for (token, pick) in [(ADMIN, true), (MEMBER, false)] {
        let codes = post(&app, &body, token).await;
        let mut want_hosts = BTreeMap::new();
        for (case, code) in CASES.iter().zip(&codes) {
            let (want, hosts) = if pick { case.admin } else { case.member };
            assert_eq!(
                *code, want,
                "{:?} {token}: {} {} ({})",
                cloud.db, case.key, case.name, case.why
            );
            if let (Some(tag), false) = (case.tag, hosts.is_empty()) {
                want_hosts.insert(
                    tag.to_owned(),
                    hosts.iter().map(|h| h.to_string()).collect(),
                );
            }
        }
        assert_eq!(
            arrivals(&queues).await,
            want_hosts,
            "{:?} {token}: hosts",
            cloud.db
        );
    }
    // A service caller of another project sees nothing: every event 404.
    let codes = post(&app, &body, SERVICE).await;
    assert!(codes.iter().all(|c| *c == 404), "{codes:?}");
    assert!(arrivals(&queues).await.is_empty());
    // The directory is Nova's: its admin routes are refused.
    let reply = app
        .request(
            http::Method::GET,
            &format!("/directory/servers/{}", uuid("A")),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status.as_u16(), 405, "{reply:?}");
    assert!(
        reply.body["badMethod"]["message"]
            .as_str()
            .unwrap()
            .contains("Nova")
    );
    app.stop().await;
}

/// cell2's URL is a template: filled with a port nothing listens on, its
/// database is down; only its events answer 503.
async fn a_cell_database_down(cloud: &NovaCloud, uuid: &dyn Fn(&str) -> String) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let source = cloud.nova_database_url();
    let real_port = if cloud.db == Db::Mariadb {
        ":3306/"
    } else {
        ":5432/"
    };
    let broken = source.replace(real_port, &format!(":{port}/"));
    assert_ne!(broken, source);
    let mut app = TestApp::spawn_with(|c| {
        nova_mode(c, cloud);
        c.directory.nova_database_url = broken;
    })
    .await;
    app.wait_ready().await;
    app.bind_host("cmp-1").await;
    let events = json!({"events": [
        {"name": "network-vif-plugged", "server_uuid": uuid("X"), "tag": "x"},
        {"name": "network-vif-plugged", "server_uuid": uuid("A"), "tag": "a"},
        {"name": "network-vif-plugged", "server_uuid": uuid("F"), "tag": "f"},
        {"name": "network-vif-plugged", "server_uuid": uuid("G"), "tag": "g"},
    ]});
    for token in [ADMIN, MEMBER] {
        assert_eq!(
            post(&app, &events, token).await,
            [503, 200, 422, 404],
            "{token}"
        );
    }
    app.stop().await;
}

/// noauth reads `user:project` as Nova's noauth2 did: admin only for `admin`.
async fn noauth_callers(cloud: &NovaCloud, uuid: &dyn Fn(&str) -> String) {
    let mut app = TestApp::spawn_with(|c| {
        nova_mode(c, cloud);
        c.auth.mode = AuthMode::Noauth;
    })
    .await;
    app.wait_ready().await;
    app.bind_host("cmp-1").await;
    app.bind_host("cmp-3").await;
    let events = json!({"events": [
        {"name": "network-vif-plugged", "server_uuid": uuid("A"), "tag": "a"},
        {"name": "network-vif-plugged", "server_uuid": uuid("I"), "tag": "i"},
    ]});
    for (token, want) in [
        ("neutron:p1", [200, 404]),
        ("p2", [404, 200]),
        ("admin:p9", [200, 200]),
    ] {
        assert_eq!(post(&app, &events, token).await, want, "noauth {token}");
    }
    app.stop().await;
}

/// What the Nova wire builds on: the row's fields and the cells.
async fn lookup_hands_on_the_rows(cloud: &NovaCloud) {
    let mut config = Config::default();
    config.directory.backend = DirectoryBackend::Nova;
    config.directory.url = cloud.api_url();
    config.directory.nova_database_url = cloud.nova_database_url();
    let directory = Directory::open(&config.directory).await.expect("open");
    let id = |key: &str| ServerId::parse(&cloud.uuid(key)).unwrap();
    let found = directory
        .lookup(&[id("A"), id("X"), id("C"), id("F")], &Caller::admin())
        .await
        .expect("lookup");
    let nova = |key: &str| match &found[&id(key)] {
        Found::Nova(server) => server.clone(),
        other => panic!("{key}: {other:?}"),
    };
    let a = nova("A");
    assert_eq!(
        a.id,
        cloud.info["rows"]["instances"]["A"]["id"].as_i64().unwrap() as i32
    );
    assert_eq!(a.host.as_ref().map(HostName::as_str), Some("cmp-1"));
    assert_eq!(a.project_id.as_deref(), Some("p1"));
    assert_eq!(a.user_id.as_deref(), Some("u1"));
    assert_eq!(a.vm_state.as_deref(), Some("active"));
    assert_eq!(
        (a.power_state, a.task_state.as_deref(), a.deleted),
        (Some(1), None, false)
    );
    assert_eq!(a.cell.name.as_deref(), Some("cell1"));
    assert!(nova("C").deleted);
    let x = nova("X");
    assert_eq!(x.cell.name.as_deref(), Some("cell2"));
    assert!(
        x.cell.database_connection.contains("{username}"),
        "stored as the template"
    );
    assert_eq!(x.task_state.as_deref(), Some("resize_migrating"));
    let cmp9 = HostName::parse("cmp-9").unwrap();
    assert_eq!(
        x.cell_of(&cmp9).name.as_deref(),
        Some("cell1"),
        "host_mappings"
    );
    assert_eq!(found[&id("F")], Found::Unscheduled);
    let cells = directory.nova().unwrap().cells().await.expect("cells");
    let names: Vec<_> = cells.iter().filter_map(|c| c.name.clone()).collect();
    assert_eq!(names, ["cell0", "cell1", "cell2"]);
    directory.close().await;
}

/// check-config reaches the API database and every cell's, and names the
/// cell whose database does not answer.
async fn check_config(cloud: &NovaCloud) {
    let dir = tempfile::tempdir().unwrap();
    let write = |source: &str| {
        let text = format!(
            "[[auth.tokens]]\ntoken = \"t\"\nroles = [\"admin\"]\n\
             [directory]\nbackend = \"nova\"\nurl = \"{}\"\nnova_database_url = \"{source}\"\n",
            cloud.api_url()
        );
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let check = |path: std::path::PathBuf| {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["check-config", "--config"])
            .arg(path)
            .output()
            .expect("herald runs")
    };
    let ok = check(write(&cloud.nova_database_url()));
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{stderr}");
    for cell in ["cell0", "cell1", "cell2"] {
        assert!(stderr.contains(&format!("Nova cell {cell} ")), "{stderr}");
    }
    // Without the template's source, cell2's URL cannot be made.
    let failed = check(write(""));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains("cell2") && stderr.contains("nova_database_url"),
        "{stderr}"
    );
}
