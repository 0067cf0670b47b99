//! Opening the pull (merge) request of a protocol branch.
//!
//! In order: the `gh` CLI for GitHub remotes or `glab` for GitLab ones when installed
//! (they carry the user's login), else the GitHub REST API with a token against a
//! configurable API base (GitHub Enterprise, or a fake in tests). A PR that already
//! exists for the branch counts as success: its URL is returned.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PrError {
    #[error("cannot tell the repository from remote `{0}`")]
    Remote(String),
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    #[error("GitHub API: {0}")]
    Api(String),
    #[error("no way to open a PR: install gh or glab, or set a GitHub token")]
    NoMeans,
}

/// How PRs can be opened here.
#[derive(Debug, Clone, Default)]
pub struct PrConfig {
    /// `gh` executable, if installed.
    pub gh: Option<PathBuf>,
    /// `glab` executable, if installed.
    pub glab: Option<PathBuf>,
    /// REST API base, e.g. `https://api.github.com`.
    pub api_base: String,
    pub token: Option<String>,
}

impl PrConfig {
    /// `gh` and `glab` from `PATH`, the token from `GITHUB_TOKEN`, the API base from
    /// `GITHUB_API_URL` (default `https://api.github.com`).
    pub fn from_env() -> PrConfig {
        PrConfig {
            gh: which("gh"),
            glab: which("glab"),
            api_base: std::env::var("GITHUB_API_URL")
                .unwrap_or_else(|_| "https://api.github.com".into()),
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// `owner/repo` of a GitHub or GitLab remote URL (https or scp-like ssh).
pub fn owner_repo(remote: &str) -> Option<(String, String)> {
    let path = remote
        .trim()
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').map(|(_, p)| p.to_string()))
        .unwrap_or_else(|| {
            remote
                .split_once(':')
                .map(|(_, p)| p.trim_end_matches(".git").to_string())
        })?;
    let mut parts = path.rsplitn(2, '/');
    let repo = parts.next()?.to_string();
    let owner = parts.next()?.to_string();
    (!owner.is_empty() && !repo.is_empty()).then_some((owner, repo))
}

pub struct PrRequest<'a> {
    pub dir: &'a Path,
    pub remote_url: &'a str,
    pub branch: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
}

/// Opens the PR; its URL.
pub async fn open_pr(cfg: &PrConfig, req: &PrRequest<'_>) -> Result<String, PrError> {
    let gitlab = req.remote_url.contains("gitlab");
    if gitlab {
        if let Some(glab) = &cfg.glab {
            return run_tool(
                glab,
                req.dir,
                &[
                    "mr",
                    "create",
                    "--source-branch",
                    req.branch,
                    "--target-branch",
                    req.base,
                    "--title",
                    req.title,
                    "--description",
                    req.body,
                    "--yes",
                ],
            )
            .await;
        }
    } else if let Some(gh) = &cfg.gh {
        return run_tool(
            gh,
            req.dir,
            &[
                "pr", "create", "--head", req.branch, "--base", req.base, "--title", req.title,
                "--body", req.body,
            ],
        )
        .await;
    }
    match &cfg.token {
        Some(token) if !gitlab => github_api(cfg, token, req).await,
        _ => Err(PrError::NoMeans),
    }
}

/// Runs gh/glab; the URL is the last line they print.
async fn run_tool(tool: &Path, dir: &Path, args: &[&str]) -> Result<String, PrError> {
    let name = tool
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .map_err(|e| PrError::Tool {
            tool: name.clone(),
            message: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // gh says "a pull request for branch ... already exists: <url>" and exits 1.
    let url_in = |text: &str| {
        text.split_whitespace()
            .rev()
            .find(|w| w.starts_with("https://") || w.starts_with("http://"))
            .map(str::to_string)
    };
    if out.status.success() || stderr.contains("already exists") {
        if let Some(url) = url_in(&stdout).or_else(|| url_in(&stderr)) {
            return Ok(url);
        }
    }
    Err(PrError::Tool {
        tool: name,
        message: stderr.trim().chars().take(300).collect(),
    })
}

async fn github_api(cfg: &PrConfig, token: &str, req: &PrRequest<'_>) -> Result<String, PrError> {
    let (owner, repo) =
        owner_repo(req.remote_url).ok_or_else(|| PrError::Remote(req.remote_url.into()))?;
    // A GitHub owner is one path segment (unlike GitLab's nested groups): a mirror's
    // longer path, e.g. `file:///srv/mirrors/acme/app.git`, ends in owner/repo.
    let owner = owner.rsplit('/').next().unwrap_or(&owner).to_string();
    let http = reqwest::Client::new();
    let base = cfg.api_base.trim_end_matches('/');
    let pulls = format!("{base}/repos/{owner}/{repo}/pulls");
    let api = |e: reqwest::Error| PrError::Api(e.to_string());
    let resp = http
        .post(&pulls)
        .bearer_auth(token)
        .header("User-Agent", "baton-pipeline-worker")
        .header("Accept", "application/vnd.github+json")
        .json(&json!({"title": req.title, "head": req.branch, "base": req.base, "body": req.body}))
        .send()
        .await
        .map_err(api)?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return body["html_url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PrError::Api("no html_url in the answer".into()));
    }
    if status.as_u16() == 422 && body.to_string().contains("already exists") {
        let existing: Value = http
            .get(&pulls)
            .query(&[
                ("head", format!("{owner}:{}", req.branch)),
                ("state", "open".into()),
            ])
            .bearer_auth(token)
            .header("User-Agent", "baton-pipeline-worker")
            .send()
            .await
            .map_err(api)?
            .json()
            .await
            .map_err(api)?;
        if let Some(url) = existing[0]["html_url"].as_str() {
            return Ok(url.to_string());
        }
    }
    Err(PrError::Api(format!(
        "{status}: {}",
        body.to_string().chars().take(300).collect::<String>()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use warp::Filter;

    #[test]
    fn remotes_name_owner_and_repo() {
        let o = |s: &str| owner_repo(s).map(|(a, b)| format!("{a}/{b}"));
        assert_eq!(
            o("https://github.com/acme/app.git").as_deref(),
            Some("acme/app")
        );
        assert_eq!(
            o("git@github.com:acme/app.git").as_deref(),
            Some("acme/app")
        );
        assert_eq!(
            o("https://gitlab.com/group/sub/app").as_deref(),
            Some("group/sub/app")
        );
        assert_eq!(o("nonsense"), None);
    }

    /// A fake GitHub: the first create answers 201, later ones 422 "already exists".
    async fn fake_github() -> (String, Arc<Mutex<Vec<Value>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let create = warp::path!("repos" / String / String / "pulls")
            .and(warp::post())
            .and(warp::header::<String>("authorization"))
            .and(warp::body::json())
            .map(move |o: String, r: String, auth: String, body: Value| {
                let mut seen = s.lock().unwrap();
                seen.push(body.clone());
                let (code, reply) = if auth != "Bearer t-1" {
                    (401, json!({"message": "Bad credentials"}))
                } else if seen.len() == 1 {
                    (201, json!({"html_url": format!("https://gh.test/{o}/{r}/pull/1")}))
                } else {
                    (422, json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for acme:0001-demo."}]}))
                };
                warp::reply::with_status(warp::reply::json(&reply), warp::http::StatusCode::from_u16(code).unwrap())
            });
        let list = warp::path!("repos" / String / String / "pulls")
            .and(warp::get())
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .map(
                |o: String, r: String, q: std::collections::HashMap<String, String>| {
                    assert_eq!(q.get("head").map(String::as_str), Some("acme:0001-demo"));
                    warp::reply::json(
                        &json!([{"html_url": format!("https://gh.test/{o}/{r}/pull/1")}]),
                    )
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(create.or(list)).incoming(listener).run());
        (format!("http://{addr}"), seen)
    }

    #[tokio::test]
    async fn the_api_opens_a_pr_once_and_finds_it_after() {
        let (base, seen) = fake_github().await;
        let cfg = PrConfig {
            api_base: base,
            token: Some("t-1".into()),
            ..PrConfig::default()
        };
        let req = PrRequest {
            dir: Path::new("."),
            remote_url: "git@github.com:acme/app.git",
            branch: "0001-demo",
            base: "main",
            title: "0001-demo",
            body: "Planned and executed by Baton.",
        };
        assert_eq!(
            open_pr(&cfg, &req).await.unwrap(),
            "https://gh.test/acme/app/pull/1"
        );
        assert_eq!(
            open_pr(&cfg, &req).await.unwrap(),
            "https://gh.test/acme/app/pull/1"
        );
        let bodies = seen.lock().unwrap().clone();
        assert_eq!(
            bodies[0],
            json!({"title": "0001-demo", "head": "0001-demo", "base": "main", "body": "Planned and executed by Baton."})
        );
        let bad = PrConfig {
            token: Some("t-2".into()),
            ..cfg.clone()
        };
        assert!(
            matches!(open_pr(&bad, &req).await.unwrap_err(), PrError::Api(m) if m.starts_with("401"))
        );
        let none = PrConfig::default();
        assert!(matches!(
            open_pr(&none, &req).await.unwrap_err(),
            PrError::NoMeans
        ));
    }

    #[tokio::test]
    async fn gh_is_preferred_when_installed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("baton-gh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gh = dir.join("gh");
        std::fs::write(&gh, "#!/bin/sh\necho \"Creating pull request for $4 into $6\"\necho https://github.com/acme/app/pull/9\n").unwrap();
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cfg = PrConfig {
            gh: Some(gh),
            ..PrConfig::default()
        };
        let req = PrRequest {
            dir: &dir,
            remote_url: "https://github.com/acme/app.git",
            branch: "0001-demo",
            base: "main",
            title: "t",
            body: "b",
        };
        assert_eq!(
            open_pr(&cfg, &req).await.unwrap(),
            "https://github.com/acme/app/pull/9"
        );
    }
}
