//! The example worker binaries as a first-time user runs them: `--help` / `-h` print
//! usage (what the worker does, the variables it reads, an example) and exit 0 without
//! starting a worker; an unknown argument is an error (exit 2) that points at `--help`.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARIES: [(&str, &str); 3] = [
    ("echo-worker", env!("CARGO_BIN_EXE_echo-worker")),
    ("pipeline-worker", env!("CARGO_BIN_EXE_pipeline-worker")),
    ("workflow-worker", env!("CARGO_BIN_EXE_workflow-worker")),
];

/// Runs `binary` with `arg`; it must end by itself within 10 s (a worker that started
/// instead would not: nothing listens at the orchestrator URL given, so it retries).
fn run(binary: &str, arg: &str) -> Output {
    let mut child = Command::new(binary)
        .arg(arg)
        // Were a worker to start, it would find no orchestrator here and keep retrying.
        .env("ORCHESTRATOR_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{binary} {arg} did not exit: it started a worker");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn help_prints_usage_and_exits_0() {
    for (name, binary) in BINARIES {
        for flag in ["--help", "-h"] {
            let out = run(binary, flag);
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{name} {flag}: {text}");
            for part in [
                format!("{name}: "),
                format!("Usage: {name} [--help]"),
                "ORCHESTRATOR_URL".to_string(),
                "WORKER_TOKEN".to_string(),
                "Example:".to_string(),
                "WORKER_TOKEN=dev-worker-token".to_string(),
            ] {
                assert!(
                    text.contains(&part),
                    "{name} {flag}: {part:?} missing:\n{text}"
                );
            }
        }
    }
}

#[test]
fn an_unknown_argument_is_an_error_with_exit_code_2() {
    for (name, binary) in BINARIES {
        let out = run(binary, "--port=9000");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("unknown argument `--port=9000`"),
            "{name}: {err}"
        );
        assert!(err.contains(&format!("{name} --help")), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name} printed to stdout");
    }
}
