//! `baton serve` as a separate process, for tests that kill an orchestrator the way a
//! crash does (SIGKILL: no drain, no cleanup).
//!
//! The binary is the one `cargo test --workspace` builds (`target/<profile>/baton`, next
//! to the test executables' `deps/`), or `BATON_BIN`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `baton` binary.
pub fn baton_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BATON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|d| d.join("baton"))
        .unwrap_or_else(|| PathBuf::from("baton"));
    assert!(
        dir.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds the binary), or set BATON_BIN",
        dir.display()
    );
    dir
}

/// A running `baton serve`.
pub struct BatonProcess {
    pub base_url: String,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl BatonProcess {
    /// Starts `baton serve` with the tests' tokens on a free loopback port and `env`
    /// (which may override anything), and waits until it answers as ready.
    pub async fn start(env: &[(&str, String)]) -> BatonProcess {
        let port = free_port();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut cmd = Command::new(baton_bin());
        cmd.arg("serve")
            .env("BATON_LISTEN", format!("127.0.0.1:{port}"))
            .env("BATON_CLIENT_TOKEN", crate::orchestrator::CLIENT_TOKEN)
            .env("BATON_WORKER_TOKEN", crate::orchestrator::WORKER_TOKEN)
            .env("BATON_BLUEPRINTS_DIR", root.join("blueprints"))
            .env("BATON_WORKFLOWS_DIR", root.join("blueprints/workflows"))
            .env(
                "BATON_LOG",
                std::env::var("BATON_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("baton serve starts");
        let p = BatonProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        p.wait_ready().await;
        p
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::new();
        loop {
            let ready = http
                .get(format!("{}/health/ready", self.base_url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "baton serve never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BatonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
