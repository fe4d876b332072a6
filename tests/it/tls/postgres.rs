//! The directory on a PostgreSQL cluster of the test's own with TLS:
//! `sslmode=verify-full` with the CA connects (and the server sees the
//! connection encrypted); an unknown CA, an address the certificate does
//! not name, and `require` with an unknown root (checked as libpq checks
//! it) fail with the reason; `disable` is the plaintext control.

use std::time::Duration;

use sqlx::Connection;

use herald::directory::Directory;
use herald::directory::config::{DirectoryBackend, DirectoryConfig};

use super::own_postgres::OwnPostgres;
use crate::support::certs::TestPki;

fn config(url: String) -> DirectoryConfig {
    DirectoryConfig {
        backend: DirectoryBackend::Postgres,
        url,
        acquire_timeout: Duration::from_secs(10),
        query_timeout: Duration::from_secs(20),
        ..DirectoryConfig::default()
    }
}

/// Opens the directory at `url` and pings it (creating the schema).
async fn ping(url: String) -> Result<Directory, String> {
    let directory = Directory::open(&config(url))
        .await
        .map_err(|e| e.to_string())?;
    directory
        .ping()
        .await
        .map_err(|e| herald::support::error_chain::error_chain(&e))?;
    Ok(directory)
}

/// Connections to the cluster's `postgres` database, by encryption, other
/// than the one asking.
async fn sessions(own: &OwnPostgres, encrypted: bool) -> i64 {
    let mut admin = sqlx::PgConnection::connect(&own.url("127.0.0.1", "?sslmode=disable"))
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = 'postgres' AND a.pid <> pg_backend_pid() AND s.ssl = $1",
    )
    .bind(encrypted)
    .fetch_one(&mut admin)
    .await
    .unwrap()
}

/// `herald check-config` with the directory at `url`: passed, and its stderr.
fn check_config(url: &str) -> (bool, String) {
    let broker = crate::support::BROKER;
    crate::support::child::check_config(&format!(
        "[auth]\nmode = \"noauth\"\n[amqp]\nurl = \"{broker}\"\n\
         [directory]\nbackend = \"postgres\"\nurl = \"{url}\"\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_ca_works_and_a_wrong_ca_fails_with_the_reason() {
    let pki = TestPki::new();
    let Some(own) = OwnPostgres::start(&pki).await else {
        return;
    };
    let ca = pki.path("ca.pem").display().to_string();
    let rogue = pki.path("rogue-ca.pem").display().to_string();

    let verified = ping(own.url(
        "localhost",
        &format!("?sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect("verify-full with the CA connects");
    assert!(
        sessions(&own, true).await >= 1,
        "herald's pooled connection is TLS"
    );
    drop(verified);

    let cases = [
        (
            "an unknown CA",
            own.url(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={rogue}"),
            ),
            "UnknownIssuer",
        ),
        (
            "an unnamed address",
            own.url(
                "127.0.0.2",
                &format!("?sslmode=verify-full&sslrootcert={ca}"),
            ),
            "not valid for name",
        ),
        (
            "require with an unknown root",
            own.url(
                "localhost",
                &format!("?sslmode=require&sslrootcert={rogue}"),
            ),
            "UnknownIssuer",
        ),
    ];
    for (what, url, reason) in cases {
        let error = ping(url)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what}: connected"));
        eprintln!("tls: postgres, {what}: {error}");
        assert!(error.contains(reason), "{what}: {reason} not in {error}");
    }

    // check-config shows the mode in effect and what the session got.
    let url = own.url("localhost", &format!("?sslmode=require&sslrootcert={ca}"));
    let (ok, err) = check_config(&url);
    assert!(ok, "{err}");
    let shown = format!("PostgreSQL with sslmode=verify-ca sslrootcert={ca}");
    assert!(err.contains(&shown), "{shown} not in {err}");
    assert!(
        err.contains("the database session is encrypted (TLS)"),
        "{err}"
    );
    let (ok, err) = check_config(&own.url("127.0.0.1", "?sslmode=disable"));
    assert!(
        ok && err.contains("the database session is NOT encrypted"),
        "{err}"
    );

    // The control: plaintext when asked for, and the server sees it so.
    let before = sessions(&own, false).await;
    let plain = ping(own.url("127.0.0.1", "?sslmode=disable"))
        .await
        .unwrap();
    assert!(
        sessions(&own, false).await > before,
        "a plaintext session appeared"
    );
    drop(plain);
}
