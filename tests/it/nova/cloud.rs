//! A throw-away Nova "cloud" for one test: Nova's real schema on the
//! machine's MariaDB or PostgreSQL, built by `tests/nova/fixture.py` with
//! nova-manage, rows made with nova's own objects, and everything dropped
//! when the value is dropped (even when the test panics).
//!
//! Building the schema takes seconds (about 20 s on a quiet machine, a
//! minute under load), so a test builds one cloud and runs a whole table of
//! cases against it, rather than one cloud per case.

use std::path::PathBuf;
use std::time::Duration;

use herald::api::auth_config::TokenConfig;
use herald::config::Config;
use herald::directory::config::DirectoryBackend;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::support::parts;
use crate::support::within;

/// Which database server holds the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Mariadb,
    Postgres,
}

impl Db {
    fn fixture_name(self) -> &'static str {
        match self {
            Self::Mariadb => "mysql",
            Self::Postgres => "postgresql",
        }
    }

    fn port(self) -> u16 {
        match self {
            Self::Mariadb => 3306,
            Self::Postgres => 5432,
        }
    }
}

/// Bound on one fixture run: far past a build under load.
const FIXTURE_DEADLINE: Duration = Duration::from_secs(240);

fn fixture_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nova/fixture.py")
}

/// A token for a caller with `roles`, acting as `user` in `project` (Nova
/// mode scopes a non-admin caller by its project).
pub fn caller_token(value: &str, roles: &[&str], user: &str, project: &str) -> TokenConfig {
    TokenConfig {
        token: Some(value.into()),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        user_id: Some(user.into()),
        project_id: Some(project.into()),
        ..TokenConfig::default()
    }
}

/// A cloud of Nova databases; dropped with the value.
pub struct NovaCloud {
    pub db: Db,
    /// The databases' common prefix (`<prefix>_api`, `<prefix>_cell0`…).
    pub prefix: String,
    /// What `fixture.py create` printed (urls, cells, rows).
    pub info: Value,
    python: PathBuf,
    dir: tempfile::TempDir,
}

impl NovaCloud {
    /// Builds a cloud with `cells` cells besides cell0 and the rows of
    /// `rows` (see `fixture.py`'s `make_rows`); `None` when skipped.
    pub async fn create(db: Db, cells: u8, rows: &Value) -> Option<Self> {
        let python = parts::found(parts::nova_python(db.port()))?;
        let tag = crate::support::unique_name()[12..].to_owned();
        // The guard exists before anything is made, so a create that fails
        // half-way is dropped too.
        let mut cloud = Self {
            db,
            prefix: format!("hn{}", &tag[..10]),
            info: Value::Null,
            python,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let spec = cloud.dir.path().join("rows.json");
        std::fs::write(&spec, rows.to_string()).expect("temp dir is writable");
        let dir = cloud.dir.path().display().to_string();
        let args = [
            "create",
            "--backend",
            db.fixture_name(),
            "--prefix",
            &cloud.prefix,
            "--dir",
            &dir,
            "--cells",
            &cells.to_string(),
            "--rows",
            &spec.display().to_string(),
        ];
        let started = std::time::Instant::now();
        cloud.info = cloud.run(&args, None).await;
        eprintln!(
            "nova cloud {} on {db:?} built in {:.1} s",
            cloud.prefix,
            started.elapsed().as_secs_f64()
        );
        Some(cloud)
    }

    /// Points `config`'s directory at this cloud: the `nova` backend on its
    /// API and cell databases, 10 s per query (a busy MariaDB is slow).
    pub fn directory_of(&self, config: &mut Config) {
        config.directory.backend = DirectoryBackend::Nova;
        config.directory.url = self.api_url();
        config.directory.nova_database_url = self.nova_database_url();
        config.directory.query_timeout = Duration::from_secs(10);
    }

    /// Makes more rows (a second nova import: seconds).
    pub async fn rows(&self, spec: &Value) -> Value {
        let conf = self.info["conf"].as_str().expect("conf path").to_owned();
        self.run(&["rows", "--conf", &conf], Some(spec)).await
    }

    /// The uuid of the instance the spec called `key`.
    pub fn uuid(&self, key: &str) -> String {
        self.info["rows"]["instances"][key]["uuid"]
            .as_str()
            .unwrap_or_else(|| panic!("no row {key} in the cloud"))
            .to_owned()
    }

    /// Nova's API database as the read-only user, in SQLAlchemy's form.
    pub fn api_url(&self) -> String {
        self.info["reader"]["api_connection"]
            .as_str()
            .expect("url")
            .to_owned()
    }

    /// What nova-api would have in `[database]/connection`, with the
    /// read-only user: fills the templated cells' URLs.
    pub fn nova_database_url(&self) -> String {
        self.info["reader"]["database_connection"]
            .as_str()
            .expect("url")
            .to_owned()
    }

    async fn run(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg(fixture_script())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the nova venv's python runs");
        let mut input = child.stdin.take().expect("piped stdin");
        let text = stdin.map(Value::to_string).unwrap_or_default();
        input
            .write_all(text.as_bytes())
            .await
            .expect("fixture reads its spec");
        drop(input);
        let what = format!("fixture.py {}", args[0]);
        let output = within(FIXTURE_DEADLINE, &what, child.wait_with_output())
            .await
            .expect("fixture.py ends");
        assert!(
            output.status.success(),
            "{what} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{what} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

impl Drop for NovaCloud {
    fn drop(&mut self) {
        let dropped = std::process::Command::new(&self.python)
            .arg(fixture_script())
            .args([
                "drop",
                "--backend",
                self.db.fixture_name(),
                "--prefix",
                &self.prefix,
            ])
            .output();
        match dropped {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "could not drop nova cloud {}: {}",
                self.prefix,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(error) => eprintln!("could not drop nova cloud {}: {error}", self.prefix),
        }
    }
}
