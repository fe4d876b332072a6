//! Parts a test needs beyond the machine's RabbitMQ and PostgreSQL (which
//! every test simply expects, and scripts/test.sh starts): the Keystone,
//! the Python clients and the nova venv that scripts/test.sh prepares and
//! names in the environment. A test asks with [`require!`]: outside CI a missing part
//! skips the test *visibly* (a `SKIPPED` line saying why, shown by nextest's
//! default profile); under `CI=true` it fails the test.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use super::within;

/// A part that is not there, and how to get it.
#[derive(Debug)]
pub struct Missing(String);

/// A part missing for `why`.
pub fn missing(why: impl Into<String>) -> Missing {
    Missing(why.into())
}

/// The Keystone scripts/test.sh runs (scripts/keystone.sh).
pub struct Keystone {
    pub url: String,
    pub admin_password: String,
    /// Its directory (config, keys, database), for a Keystone of a test's own.
    pub dir: PathBuf,
    /// The gunicorn that serves it.
    pub gunicorn: String,
}

/// The running Keystone, or what is missing.
pub fn keystone() -> Result<Keystone, Missing> {
    Ok(Keystone {
        url: var("HERALD_TEST_KEYSTONE_URL", "which starts Keystone")?,
        admin_password: var(
            "HERALD_TEST_KEYSTONE_ADMIN_PASSWORD",
            "which starts Keystone",
        )?,
        dir: var("HERALD_TEST_KEYSTONE_DIR", "which starts Keystone")?.into(),
        gunicorn: var("HERALD_TEST_KEYSTONE_GUNICORN", "which starts Keystone")?,
    })
}

/// The Python with the pinned OpenStack clients, or what is missing.
pub fn python() -> Result<String, Missing> {
    var("HERALD_TEST_PYTHON", "which sets up the Python clients")
}

/// Runs `tests/clients/<script> args…` with `python` (its output passes
/// through to the test's), and its exit status; `limit` bounds it.
pub async fn run_client_script(
    python: &str,
    script: &str,
    args: &[&str],
    limit: Duration,
) -> ExitStatus {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = tokio::process::Command::new(python)
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {python} {path}: {e}"));
    within(limit, &format!("{script} finishes"), child.wait())
        .await
        .expect("wait for the script")
}

/// The nova venv: its python and its bin directory.
pub struct NovaVenv {
    pub python: PathBuf,
    pub bin: PathBuf,
}

/// The nova venv with nova-compute and nova-conductor, or what is missing.
pub fn nova_venv() -> Result<NovaVenv, Missing> {
    let why = "which installs nova in .venv-nova";
    let python = var("HERALD_TEST_NOVA_PYTHON", why)?.into();
    let bin = PathBuf::from(var("HERALD_TEST_NOVA_BIN", why)?);
    for service in ["nova-compute", "nova-conductor"] {
        if !bin.join(service).exists() {
            return Err(Missing(format!(
                "no {service} in HERALD_TEST_NOVA_BIN={}",
                bin.display()
            )));
        }
    }
    Ok(NovaVenv { python, bin })
}

/// The nova venv's python (Nova's schema and rows are built with it), with
/// the database server on `port` answering, or what is missing.
pub fn nova_python(port: u16) -> Result<PathBuf, Missing> {
    let python = var(
        "HERALD_TEST_NOVA_PYTHON",
        "which installs nova in .venv-nova",
    )?;
    if !std::path::Path::new(&python).exists() {
        return Err(Missing(format!(
            "HERALD_TEST_NOVA_PYTHON={python} does not exist"
        )));
    }
    let db = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    std::net::TcpStream::connect_timeout(&db, Duration::from_secs(2)).map_err(|_| {
        Missing(format!(
            "nothing answers on {db} (scripts/ensure-services.sh starts it)"
        ))
    })?;
    Ok(python.into())
}

fn var(name: &str, why: &str) -> Result<String, Missing> {
    std::env::var(name)
        .map_err(|_| Missing(format!("{name} is not set: run scripts/test.sh, {why}")))
}

/// What a test does without a part: fails under `CI=true`, else says why
/// it is skipped.
pub fn skip(missing: Missing) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} cannot run: {}",
        missing.0
    );
    eprintln!("SKIPPED {test}: {}", missing.0);
}

/// The part, or `None` once [`skip`] said why (or failed, under CI).
pub fn found<T>(part: Result<T, Missing>) -> Option<T> {
    part.map_err(skip).ok()
}

/// `require!(parts::keystone())`: the part, or the test ends here, skipped
/// visibly (outside CI) or failed (under `CI=true`).
macro_rules! require {
    ($part:expr) => {
        match $crate::support::parts::found($part) {
            Some(part) => part,
            None => return,
        }
    };
}
pub(crate) use require;

#[test]
fn a_missing_part_names_the_variable_and_the_fix() {
    let missing = var("HERALD_TEST_NO_SUCH_PART", "which provides it").unwrap_err();
    assert_eq!(
        missing.0,
        "HERALD_TEST_NO_SUCH_PART is not set: run scripts/test.sh, which provides it"
    );
}
