//! `herald load` as the tests drive it: its flags parsed exactly as the
//! binary parses them, its config read as main reads it, and serve's config
//! written where `load` reads the broker names from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use herald::config::Config;
use herald::load::LoadArgs;
use tokio_util::sync::CancellationToken;

use super::names::write_config;
use super::{ADMIN_TOKEN, TestApp};

/// The `load` subcommand's flags, as `herald load` takes them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

/// `flags` (without the program name) parsed as `herald load` would.
pub fn load_args<S: AsRef<str>>(flags: &[S]) -> LoadArgs {
    let argv = std::iter::once("load").chain(flags.iter().map(AsRef::as_ref));
    Cli::try_parse_from(argv).expect("valid flags").load
}

/// `herald load` at `app` with the admin token, the broker names of
/// `config` (a file) and `extra` flags.
pub fn load_at(app: &TestApp, config: &Path, extra: &[&str]) -> LoadArgs {
    let (url, config) = (app.url(""), config.display().to_string());
    let base = ["--url", &url, "--token", ADMIN_TOKEN, "--config", &config];
    load_args(&[&base[..], extra].concat())
}

/// Runs `herald load` as its command line does: the file `--config` names
/// is read first, as main reads it, then the run.
pub async fn run_load(
    args: LoadArgs,
    shutdown: CancellationToken,
) -> Result<herald::load::Report, herald::load::LoadError> {
    let config = args
        .config
        .as_deref()
        .map(|path| Config::load(path, std::iter::empty()).expect("the test config is valid"))
        .unwrap_or_default();
    herald::load::run(args, config.load_settings(), shutdown).await
}

/// Writes serve's own config where `herald load` can read the broker names
/// from it. Serve's tests use a 2 s connect timeout so a broker that is down
/// is seen fast; `herald load` talks to the healthy broker, which on a busy
/// two-core run may take longer than that to accept a connection.
pub fn load_config_file(app: &TestApp, dir: &tempfile::TempDir) -> PathBuf {
    let mut config = app.config.clone();
    config.amqp.connect_timeout = Duration::from_secs(30);
    write_config(&config, dir.path())
}
