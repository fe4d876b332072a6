//! The `herald` binary: parses the command line, loads the config, sets up
//! logging and signals, binds listeners, and hands over to the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use herald::config::Config;
use herald::model::HostName;

/// herald: dispatches OpenStack-style external server events over RabbitMQ.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP events API and the AMQP dispatcher.
    Serve {
        /// The TOML config file.
        #[arg(long, default_value = "config/herald.toml")]
        config: PathBuf,
    },
    /// Run a compute agent that consumes one host's queue.
    Agent {
        /// The TOML config file.
        #[arg(long, default_value = "config/herald.toml")]
        config: PathBuf,
        /// The compute host whose queue to consume.
        #[arg(long)]
        host: String,
    },
    /// Drive a running `herald serve` on this machine through the broker and report.
    Load(Box<herald::load::LoadArgs>),
    /// Validate a config file, print the effective settings (secrets masked)
    /// and check that the broker and the directory answer.
    CheckConfig {
        /// The TOML config file.
        #[arg(long, default_value = "config/herald.toml")]
        config: PathBuf,
        /// Only validate the file; do not contact the broker or the directory.
        #[arg(long)]
        offline: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("herald: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "herald: {}",
                herald::support::error_chain::error_chain(error.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve { config } => serve(&config).await,
        Command::Agent { config, host } => agent(&config, &host).await,
        Command::CheckConfig { config, offline } => check_config(&config, offline).await,
        Command::Load(args) => load(*args).await,
    }
}

fn load_config(path: &Path) -> Result<Config> {
    Ok(Config::load(path, std::env::vars())?)
}

async fn bind(addr: SocketAddr, key: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {key} = {addr}"))
}

async fn serve(path: &Path) -> Result<()> {
    let config = load_config(path)?;
    let _log = herald::telemetry::init(&config.log);
    herald::support::limits::raise_open_files_limit();
    let listener = bind(config.http.listen, "http.listen").await?;
    let shutdown = CancellationToken::new();
    herald::support::shutdown::cancel_on_signal(shutdown.clone());
    herald::serve::run(config, listener, shutdown).await?;
    Ok(())
}

async fn agent(path: &Path, host: &str) -> Result<()> {
    let config = load_config(path)?;
    let host = HostName::parse(host).with_context(|| format!("--host {host:?}"))?;
    let _log = herald::telemetry::init(&config.log);
    herald::support::limits::raise_open_files_limit();
    let waiter = bind(config.agent.waiter_listen, "agent.waiter_listen").await?;
    let shutdown = CancellationToken::new();
    herald::support::shutdown::cancel_on_signal(shutdown.clone());
    herald::agent::run(config.agent_settings(), host, waiter, shutdown).await?;
    Ok(())
}

async fn load(args: herald::load::LoadArgs) -> Result<()> {
    // `[amqp]` and the host queues' keys, with `HERALD__*` overrides, as serve reads them.
    let config = match &args.config {
        Some(path) => load_config(path).context("--config")?,
        None => Config::default(),
    };
    let broker = config.load_settings();
    let _log = herald::telemetry::init(&herald::telemetry::LogConfig {
        level: "warn".into(),
        ..Default::default()
    });
    let json = args.json;
    let shutdown = CancellationToken::new();
    herald::support::shutdown::cancel_on_signal(shutdown.clone());
    let report = herald::load::run(args, broker, shutdown).await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    report.verdict()?;
    Ok(())
}

/// Nova's wire: `amqp.url`'s broker and every cell's answer and hold Nova's
/// exchange (each broker named on stderr, passwords never).
async fn check_nova_brokers(
    amqp: &herald::broker::AmqpConfig,
    nova: &herald::directory::nova::NovaDirectory,
) -> Result<()> {
    use herald::broker::CellBroker;
    let default = CellBroker::from_urls(&amqp.url).context("amqp.url")?;
    let mut brokers: Vec<(String, CellBroker)> = vec![("amqp.url".into(), default)];
    let cells = nova
        .cells()
        .await
        .context("directory.url: Nova's cell_mappings cannot be read")?;
    for cell in cells {
        let named = format!("Nova cell {} ({}) transport_url", cell.label(), cell.uuid);
        match herald::api::nova_events::cell_broker(&cell, &amqp.url) {
            Ok(Some(broker)) if !brokers.iter().any(|(_, b)| b.key() == broker.key()) => {
                brokers.push((named, broker));
            }
            Ok(_) => {}
            Err(error) => anyhow::bail!("{named}: {error}"),
        }
    }
    for (named, broker) in brokers {
        herald::broker::probe_nova(amqp, &broker)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{named}: broker {} (amqp.nova_exchange {:?}): {}",
                    broker.label(),
                    amqp.nova_exchange,
                    herald::support::error_chain::error_chain(&e)
                )
            })?;
        eprintln!(
            "herald: {named}: broker {} answers and has exchange {:?}",
            broker.label(),
            amqp.nova_exchange
        );
    }
    Ok(())
}

/// Nova mode: every cell's database answers (each cell named on stderr).
async fn check_nova_cells(nova: &herald::directory::nova::NovaDirectory) -> Result<()> {
    let checks = nova
        .check_cells()
        .await
        .context("directory.url: Nova's cell_mappings cannot be read")?;
    let mut failed = Vec::new();
    for (cell, result) in checks {
        match result {
            Ok(()) => eprintln!(
                "herald: Nova cell {} ({}): database answers",
                cell.label(),
                cell.uuid
            ),
            Err(error) => failed.push(format!(
                "Nova cell {} ({}): {}",
                cell.label(),
                cell.uuid,
                herald::support::error_chain::error_chain(&error)
            )),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "directory: a cell database does not answer (cell URLs are templated from directory.nova_database_url): {}",
            failed.join("; ")
        );
    }
    Ok(())
}

async fn check_config(path: &Path, offline: bool) -> Result<()> {
    let config = load_config(path)?;
    print!("{}", config.redacted_toml());
    eprintln!("herald: {}", herald::web::tls::describe(&config.http.tls)?);
    if offline {
        return Ok(());
    }
    if config.amqp.wire == herald::broker::Wire::Herald {
        herald::broker::probe(&config.amqp)
            .await
            .context("amqp.url: the broker does not answer")?;
    }
    let directory = herald::directory::Directory::open(&config.directory)
        .await
        .context("directory.url")?;
    directory
        .ping()
        .await
        .context("directory.url: the directory does not answer")?;
    if let Some(nova) = directory.nova() {
        check_nova_cells(nova).await?;
        if config.amqp.wire == herald::broker::Wire::Nova {
            check_nova_brokers(&config.amqp, nova).await?;
        }
    }
    if config.auth.mode == herald::api::auth_config::AuthMode::Keystone {
        herald::keystone::Keystone::new(&config.keystone)
            .check_credentials()
            .await?;
    }
    eprintln!("herald: config OK; broker, directory and identity reachable");
    Ok(())
}
