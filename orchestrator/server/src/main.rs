//! The `baton` binary: a thin shell over [`baton_orchestrator::run`].

// The default allocator was ~15% of the orchestrator's CPU under load (profiled).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{bail, Context};
use baton_orchestrator::blueprint;
use baton_orchestrator::config::Config;
use baton_orchestrator::ctl;
#[cfg(feature = "dev")]
use baton_orchestrator::dev;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "Baton: a distributed worker-pull job runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    conn: ctl::Conn,
}

#[derive(Subcommand)]
enum Command {
    /// Run the orchestrator (the default). Configured by BATON_* environment variables.
    Serve,
    /// Run the orchestrator with development defaults and example workers in-process.
    #[cfg(feature = "dev")]
    Dev {
        /// Echo workers to start in-process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Validate the blueprints of a directory and exit.
    CheckBlueprints {
        /// Directory (default: BATON_BLUEPRINTS_DIR or ./blueprints).
        dir: Option<std::path::PathBuf>,
    },
    #[command(flatten)]
    Ops(ctl::Ctl),
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BATON_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("BATON_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        // The operator commands print their own errors and choose their exit status.
        Command::Ops(cmd) => return ExitCode::from(runtime.block_on(ctl::run(cmd, cli.conn))),
        Command::Serve => runtime.block_on(serve()),
        #[cfg(feature = "dev")]
        Command::Dev { workers } => runtime.block_on(dev(workers)),
        Command::CheckBlueprints { dir } => check_blueprints(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

fn failed(e: anyhow::Error) -> ExitCode {
    eprintln!("Error: {e:#}");
    ExitCode::FAILURE
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // BATON_WORKER_THREADS: runtime threads (default: one per core).
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("BATON_WORKER_THREADS")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let n: usize = n
            .parse()
            .with_context(|| format!("invalid BATON_WORKER_THREADS {n:?}"))?;
        runtime.worker_threads(n.max(1));
    }
    Ok(runtime.enable_all().build()?)
}

async fn serve() -> anyhow::Result<()> {
    init_logging();
    let cfg = Config::from_env()?;
    if cfg.client_token.is_none() && cfg.clients_file.is_none() {
        bail!("no client token: set BATON_CLIENT_TOKEN or BATON_CLIENTS_FILE (or run `baton dev`)");
    }
    if cfg.worker_token.is_none() && cfg.worker_tokens_file.is_none() {
        bail!("no worker token: set BATON_WORKER_TOKEN or BATON_WORKER_TOKENS_FILE (or run `baton dev`)");
    }
    let addr = cfg.listen_or(SocketAddr::from(([0, 0, 0, 0], 8080)));
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    baton_orchestrator::run(listener, cfg, shutdown_signal()).await?;
    Ok(())
}

#[cfg(feature = "dev")]
async fn dev(workers: usize) -> anyhow::Result<()> {
    init_logging();
    let cfg = dev::dev_config(Config::from_env()?);
    // Loopback unless asked: dev mode's tokens are public knowledge.
    let addr = cfg.listen_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "dev mode listens beyond this machine with its well-known tokens (BATON_LISTEN)");
    }
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    dev::run_dev(listener, cfg, workers, shutdown_signal()).await?;
    Ok(())
}

fn check_blueprints(dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    init_logging();
    let dir = match dir {
        Some(d) => d,
        None => Config::from_env()?.blueprints_dir,
    };
    let list = blueprint::load_dir(&dir)?;
    let registry = blueprint::Registry::new(list)?;
    for bp in registry.all() {
        println!(
            "ok  {}  POST /api/{}{}  ({} states)",
            bp.source,
            bp.version,
            bp.endpoint,
            bp.states.len()
        );
    }
    Ok(())
}
