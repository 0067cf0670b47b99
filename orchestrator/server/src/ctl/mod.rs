//! The operator CLI: `baton jobs|workers|queues|blueprints ...` against a running
//! orchestrator over its client API (`--url`, a token from `BATON_TOKEN`).
//!
//! Output is a table (or a short summary) for people and the orchestrator's own JSON with
//! `--json` for scripts. The exit status tells what happened, so scripts need not parse:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done; for a job: it finished (or, for `get`, is still in progress) |
//! | 1 | the orchestrator could not be reached or failed (5xx), or refused the token (401, 403) |
//! | 2 | bad usage, or input the orchestrator rejected (4xx) |
//! | 3 | not found (job, blueprint) |
//! | 4 | the job failed, was quarantined or cancelled |
//! | 5 | `watch --timeout` ran out while the job was still in progress |

/// Writes to stdout like `print!`, but a closed pipe (`baton jobs list | head`) ends
/// the command quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::ctl::write_out(format_args!($($arg)*))
    };
}

/// `out!` with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::ctl::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod http;
mod info;
mod jobs;
mod table;
mod watch;

use clap::{Args, Subcommand};
pub use http::CtlError;

/// Where the orchestrator is and who is asking; shared by every operator command.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// The orchestrator's base URL.
    #[arg(
        long,
        env = "BATON_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// A client token, or the admin token to see every client's jobs. Prefer the
    /// BATON_TOKEN variable: arguments show in `ps`. Falls back to BATON_ADMIN_TOKEN, then
    /// BATON_CLIENT_TOKEN.
    #[arg(long, env = "BATON_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the orchestrator's JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

/// The operator commands.
#[derive(Subcommand, Debug)]
pub enum Ctl {
    /// Submit, inspect, follow, list, cancel and retry jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCmd),
    /// The workers online: skills, tasks in hand, last heartbeat.
    Workers,
    /// The queue of each skill: tasks waiting and the oldest one's age.
    Queues,
    /// The blueprints, or one's state graph.
    #[command(subcommand)]
    Blueprints(info::BlueprintsCmd),
}

/// Exit statuses (see the module docs).
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const JOB_FAILED: u8 = 4;
    pub const STILL_RUNNING: u8 = 5;
}

/// Runs one operator command; the exit status to end with.
pub async fn run(cmd: Ctl, conn: Conn) -> u8 {
    let api = match http::Api::new(&conn) {
        Ok(api) => api,
        Err(e) => return report(e),
    };
    let result = match cmd {
        Ctl::Jobs(cmd) => jobs::run(&api, cmd).await,
        Ctl::Workers => info::workers(&api).await,
        Ctl::Queues => info::queues(&api).await,
        Ctl::Blueprints(cmd) => info::blueprints(&api, cmd).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => report(e),
    }
}

fn report(e: CtlError) -> u8 {
    eprintln!("baton: {e}");
    e.exit_code()
}

/// Stdout for the commands' output (see `out!`): the reader went away means exit 0,
/// as `head` expects of the programs before it.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("baton: cannot write the output: {e}");
        std::process::exit(1);
    }
}
