//! The `codex` CLI as an engine: `codex exec -m MODEL --cd DIR --sandbox S
//! --skip-git-repo-check -`, the prompt written to its stdin. Its stdout is the answer;
//! a non-zero exit is an unsuccessful run (stderr kept); past the request's timeout the
//! process is killed, so a hung CLI cannot hold a worker slot forever.

use super::budget::estimate_tokens;
use super::engine::{Engine, EngineError, EngineOutput, EngineRequest};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

pub struct CodexEngine {
    /// The executable (default `codex`, looked up on `PATH`).
    pub binary: PathBuf,
    /// `--sandbox` value (default `workspace-write`).
    pub sandbox: String,
}

impl Default for CodexEngine {
    fn default() -> Self {
        CodexEngine {
            binary: PathBuf::from("codex"),
            sandbox: "workspace-write".into(),
        }
    }
}

#[async_trait::async_trait]
impl Engine for CodexEngine {
    fn id(&self) -> &str {
        "codex"
    }

    async fn run(&self, req: &EngineRequest) -> Result<EngineOutput, EngineError> {
        let mut child = Command::new(&self.binary)
            .arg("exec")
            .args(["-m", &req.model])
            .arg("--cd")
            .arg(&req.workdir)
            .args(["--sandbox", &self.sandbox, "--skip-git-repo-check", "-"])
            .current_dir(&req.workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EngineError::Spawn(format!("{}: {e}", self.binary.display())))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| EngineError::Spawn("no stdin pipe".into()))?;
        let prompt = req.prompt.clone();
        // Write the prompt beside waiting for the output: a large prompt must not
        // deadlock against a CLI that writes before it has read everything.
        let writer = tokio::spawn(async move {
            let written = stdin.write_all(prompt.as_bytes()).await;
            drop(stdin);
            written
        });
        let output = match tokio::time::timeout(req.timeout, child.wait_with_output()).await {
            Ok(out) => out.map_err(|e| EngineError::Spawn(e.to_string()))?,
            // Dropping the future drops the child: kill_on_drop ends the process.
            Err(_) => return Err(EngineError::Timeout(req.timeout)),
        };
        if let Ok(Err(e)) = writer.await {
            tracing::warn!(error = %e, "codex did not read the whole prompt");
        }
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        Ok(EngineOutput {
            success: output.status.success(),
            tokens_used: estimate_tokens(&req.prompt) + estimate_tokens(&stdout),
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::engine::Phase;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    /// A fake `codex` that echoes its arguments and its stdin, or sleeps when the prompt
    /// says so.
    fn fake_codex(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("codex");
        std::fs::write(
            &path,
            "#!/bin/sh\ninput=$(cat)\ncase \"$input\" in *hang*) sleep 30;; *fail*) echo broken >&2; exit 3;; esac\necho \"args: $*\"\necho \"prompt: $input\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn request(prompt: &str, workdir: &std::path::Path, timeout: Duration) -> EngineRequest {
        EngineRequest {
            phase: Phase::Execute,
            prompt: prompt.into(),
            model: "gpt-x".into(),
            workdir: workdir.to_path_buf(),
            timeout,
        }
    }

    #[tokio::test]
    async fn runs_the_cli_with_the_prompt_on_stdin() {
        let dir = std::env::temp_dir().join(format!("baton-codex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let engine = CodexEngine {
            binary: fake_codex(&dir),
            ..CodexEngine::default()
        };
        let out = engine
            .run(&request("build the thing", &dir, Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(out.success);
        let expected_args = format!(
            "args: exec -m gpt-x --cd {} --sandbox workspace-write --skip-git-repo-check -",
            dir.display()
        );
        assert!(out.stdout.contains(&expected_args), "{}", out.stdout);
        assert!(
            out.stdout.contains("prompt: build the thing"),
            "{}",
            out.stdout
        );
        assert!(out.tokens_used > 0);

        let failed = engine
            .run(&request("fail please", &dir, Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(!failed.success);
        assert_eq!(failed.stderr.trim(), "broken");

        let started = std::time::Instant::now();
        let err = engine
            .run(&request("hang", &dir, Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Timeout(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "killed at the timeout"
        );

        let missing = CodexEngine {
            binary: dir.join("nope"),
            ..CodexEngine::default()
        };
        let err = missing
            .run(&request("x", &dir, Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Spawn(_)), "{err}");
    }
}
