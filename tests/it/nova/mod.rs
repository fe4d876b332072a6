//! Nova mode against Nova's real schema and rows (contract §8): the
//! directory backend `nova` on MariaDB and PostgreSQL, the code table for
//! admin and non-admin callers, a cell whose database is down, noauth's
//! `user:project` callers, Keystone's callers and `check-config`.
//!
//! One test per database builds one cloud (`cloud`) and runs every case on
//! it (`table`), because the schema takes seconds to build.

pub mod cloud;
mod keystone_callers;
mod load;
mod outage;
mod table;
mod world;

use self::cloud::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_table_on_mariadb() {
    table::run(Db::Mariadb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_table_on_postgres() {
    table::run(Db::Postgres).await;
}
