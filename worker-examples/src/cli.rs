//! The command line of the example worker binaries.
//!
//! The workers are configured by the environment (the SDK's variables, the Python SDK's
//! names), so the only argument they take is `--help` / `-h`: it prints what the worker
//! does, the variables it reads and an example command, and exits 0. Any other argument
//! is an error (exit 2, the usual code for a usage error) rather than being ignored, so
//! `echo-worker --help` never starts a worker by accident. No argument parser crate: one
//! flag does not need one.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// What a worker binary's help says about it.
pub struct Usage {
    /// The binary's name, as typed.
    pub name: &'static str,
    /// What it does: a paragraph or two, lines already wrapped.
    pub about: &'static str,
    /// Its own environment variables beside the SDK's, one `NAME  meaning` per line
    /// (empty when it has none).
    pub own_env: &'static str,
    /// An example command line.
    pub example: &'static str,
}

/// The SDK's variables, read by every worker (`baton_worker::WorkerConfig::from_env`).
const SDK_ENV: &str =
    "  ORCHESTRATOR_URL         the orchestrator's base URL (default http://localhost:8080)
  WORKER_TOKEN             the worker token: the orchestrator's BATON_WORKER_TOKEN
                           (`baton dev`: dev-worker-token)
  WORKER_INDIVIDUAL_TOKEN  this worker's own token (BATON_WORKER_TOKENS_FILE), used
                           instead of WORKER_TOKEN
  WORKER_ID                this worker's id (default worker-<uuid>)
  WORKER_TYPE              its kind, shown by the orchestrator (default: the binary's name)
  MAX_CONCURRENT_TASKS     tasks run at once (default 10)
  HEARTBEAT_INTERVAL, TASK_POLL_TIMEOUT, WORKER_SHUTDOWN_TIMEOUT, ...
                           seconds; every variable is listed in docs/workers.md
  RUST_LOG                 log filter (default info)";

/// What the arguments ask for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// No arguments: run the worker.
    Run,
    /// `--help` or `-h`.
    Help,
    /// Anything else (the first such argument).
    Unknown(String),
}

/// Reads the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Command {
    let mut help = false;
    for arg in args {
        match arg.to_str() {
            Some("--help" | "-h") => help = true,
            _ => return Command::Unknown(arg.to_string_lossy().into_owned()),
        }
    }
    if help {
        Command::Help
    } else {
        Command::Run
    }
}

impl Usage {
    /// The whole help text.
    pub fn text(&self) -> String {
        let own = if self.own_env.is_empty() {
            String::new()
        } else {
            format!("\nIts own variables:\n{}\n", self.own_env)
        };
        format!(
            "{name}: {about}\n\nUsage: {name} [--help]\n\nIt takes no other argument: it is \
             configured by environment variables.\nThe worker SDK's:\n{SDK_ENV}\n{own}\n\
             Example:\n  {example}\n\nCtrl-C (or SIGTERM) stops it gracefully: running tasks \
             get WORKER_SHUTDOWN_TIMEOUT\nseconds to finish, the rest go back to the \
             orchestrator for another worker.\n",
            name = self.name,
            about = self.about,
            example = self.example,
        )
    }
}

/// Handles the process's arguments: `Some(code)` when the binary should exit with it
/// (help printed, or a bad argument reported) instead of running the worker.
pub fn handle_args(usage: &Usage) -> Option<ExitCode> {
    match parse(std::env::args_os().skip(1)) {
        Command::Run => None,
        Command::Help => {
            // A closed stdout (`| head`) is not worth a panic.
            let _ = std::io::stdout().write_all(usage.text().as_bytes());
            Some(ExitCode::SUCCESS)
        }
        Command::Unknown(arg) => {
            eprintln!(
                "{name}: unknown argument `{arg}`\n(it is configured by environment \
                 variables; `{name} --help` lists them)",
                name = usage.name
            );
            Some(ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn help_flags_run_and_unknown_arguments() {
        assert_eq!(parse(args(&[])), Command::Run);
        assert_eq!(parse(args(&["--help"])), Command::Help);
        assert_eq!(parse(args(&["-h"])), Command::Help);
        assert_eq!(
            parse(args(&["--help", "--port"])),
            Command::Unknown("--port".into())
        );
        assert_eq!(parse(args(&["serve"])), Command::Unknown("serve".into()));
    }

    #[test]
    fn the_text_has_the_sdk_variables_the_own_ones_and_the_example() {
        let usage = Usage {
            name: "demo-worker",
            about: "does demos.",
            own_env: "  DEMO_LEVEL  how much",
            example: "WORKER_TOKEN=dev-worker-token demo-worker",
        };
        let text = usage.text();
        for part in [
            "demo-worker: does demos.",
            "Usage: demo-worker [--help]",
            "WORKER_TOKEN",
            "The worker SDK's:\n  ORCHESTRATOR_URL",
            "Its own variables:\n  DEMO_LEVEL  how much",
            "Example:\n  WORKER_TOKEN=dev-worker-token demo-worker",
        ] {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
    }
}
