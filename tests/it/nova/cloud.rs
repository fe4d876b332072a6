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

use serde_json::Value;
use tokio::io::AsyncWriteExt;

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

/// The nova venv's python, or a visible skip (a failure under `CI=true`).
fn nova_python(db: Db) -> Option<PathBuf> {
    let why = match std::env::var("HERALD_TEST_NOVA_PYTHON") {
        Ok(path) if std::path::Path::new(&path).exists() => {
            let up = std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 1], db.port())),
                Duration::from_secs(2),
            )
            .is_ok();
            if up {
                return Some(PathBuf::from(path));
            }
            format!("{db:?} does not answer on 127.0.0.1:{} (scripts/ensure-services.sh starts it)", db.port())
        }
        _ => "HERALD_TEST_NOVA_PYTHON is not set: run scripts/test.sh, which installs nova in .venv-nova".to_owned(),
    };
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

fn fixture_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/nova/fixture.py")
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
        let python = nova_python(db)?;
        let tag = uuid::Uuid::new_v4().simple().to_string();
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
