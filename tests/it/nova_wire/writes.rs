//! What the Nova wire writes and reads besides lookups, on PostgreSQL
//! (MariaDB's are exercised end to end in `compute`): the `instance_actions`
//! row nova-api writes, as the directory's reader user with only the
//! README's grants, and the lowest nova-compute version per cell.

use std::time::Duration;

use serde_json::json;

use herald::directory::Directory;
use herald::directory::config::{DirectoryBackend, DirectoryConfig};
use herald::directory::nova::writes::ActionRow;

use crate::nova::cloud::{Db, NovaCloud};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_actions_and_compute_versions_on_postgres() {
    let rows = json!({"instances": [{"key": "V", "cell": "cell1", "host": "cmp-1"}]});
    let Some(cloud) = NovaCloud::create(Db::Postgres, 1, &rows).await else {
        return;
    };
    let config = DirectoryConfig {
        backend: DirectoryBackend::Nova,
        url: cloud.api_url(),
        nova_database_url: cloud.nova_database_url(),
        query_timeout: Duration::from_secs(10),
        ..DirectoryConfig::default()
    };
    let directory = Directory::open(&config).await.unwrap();
    let nova = directory.nova().unwrap();
    let cells = nova.cells().await.unwrap();
    let cell1 = cells
        .iter()
        .find(|c| c.name.as_deref() == Some("cell1"))
        .unwrap();
    let admin = admin(&cloud).await;

    let at = time::macros::datetime!(2026-12-07 10:11:12.345678);
    let row = |action| ActionRow {
        action,
        instance_uuid: cloud.uuid("V"),
        request_id: "req-3df201cf-2451-44f2-8d25-a4ca826fc1f3".into(),
        user_id: Some("neutron".into()),
        project_id: Some("service".into()),
        start_time: at,
    };
    nova.record_actions(cell1, &[row("extend_volume"), row("stop")])
        .await
        .expect("the reader may insert instance_actions (and use its sequence)");
    type Written = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        bool,
        bool,
        i32,
    );
    let written: Vec<Written> = sqlx::query_as(
        "SELECT action, request_id, user_id, project_id, \
         to_char(start_time, 'YYYY-MM-DD HH24:MI:SS.US'), to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US'), \
         created_at > now() at time zone 'utc' - interval '10 minutes', finish_time IS NULL, deleted \
         FROM instance_actions WHERE instance_uuid = $1 ORDER BY id",
    )
    .bind(cloud.uuid("V"))
    .fetch_all(&admin)
    .await
    .unwrap();
    let stamp = "2026-12-07 10:11:12.345678".to_owned();
    let want = |action: &str| -> Written {
        (
            action.into(),
            "req-3df201cf-2451-44f2-8d25-a4ca826fc1f3".into(),
            Some("neutron".into()),
            Some("service".into()),
            stamp.clone(),
            stamp.clone(),
            true,
            true,
            0,
        )
    };
    assert_eq!(written, [want("extend_volume"), want("stop")]);

    // No nova-compute yet: no version in any cell.
    let versions: Vec<Option<i64>> = nova
        .compute_versions()
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(versions, [None, None], "cell0 and cell1");
    for (host, version, forced_down) in [
        ("cmp-1", 74, false),
        ("cmp-2", 66, false),
        ("cmp-3", 50, true),
    ] {
        sqlx::query(
            "INSERT INTO services (host, \"binary\", topic, report_count, disabled, deleted, \
             forced_down, version, uuid, created_at) \
             VALUES ($1, 'nova-compute', 'compute', 0, false, 0, $2, $3, $4, now())",
        )
        .bind(host)
        .bind(forced_down)
        .bind(version)
        .bind(uuid::Uuid::new_v4().to_string())
        .execute(&admin)
        .await
        .unwrap();
    }
    let versions = nova.compute_versions().await.unwrap();
    let versions: Vec<Option<i64>> = versions.into_iter().map(Result::unwrap).collect();
    assert!(
        versions.contains(&Some(66)) && versions.contains(&None),
        "cell1's lowest, a forced-down compute left out: {versions:?}"
    );
    directory.close().await;
    admin.close().await;
}

/// cell1's database as the fixture's admin.
async fn admin(cloud: &NovaCloud) -> sqlx::PgPool {
    let url = cloud.info["database_connection"].as_str().unwrap();
    let url = herald::directory::nova::url::to_sqlx(url).unwrap();
    sqlx::PgPool::connect(&url.url).await.unwrap()
}
