//! Git in the orchestrator process, through the `git` CLI: finding a project's checkout
//! on this host, cloning it, listing and deleting branches of its origin. Used by the
//! branch routes and by inline onboarding, which answer synchronously.
//!
//! A project's checkout on this host is, in order: its `local_path` when that is a git
//! work tree, else `<projects_root>/<project_id>/<repo_name>` when a clone is there
//! ([`locate`]). Every command runs with `GIT_TERMINAL_PROMPT=0` (no credential prompt
//! can hang a request) and under a timeout, and is killed when dropped.

use super::model::Project;
pub use baton_protocol::pipeline::repo_name;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// Longest a git command of a request may take (clones and fetches of big repositories
/// belong to workers; this bounds what a request waits for).
pub const GIT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// `git` is not installed on this host (503 for the API).
    #[error("git is not installed on the orchestrator host: {0}")]
    NoGit(String),
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("git {0} timed out")]
    Timeout(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

/// Runs `git args` in `dir`; its stdout.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, RepoError> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .kill_on_drop(true);
    let out = match tokio::time::timeout(GIT_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(RepoError::Timeout(args.join(" "))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RepoError::NoGit(e.to_string()))
        }
        Ok(Err(e)) => return Err(RepoError::Io(format!("cannot run git: {e}"))),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(RepoError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Where the project is cloned when it has no `local_path`.
pub fn clone_target(project: &Project, projects_root: &Path) -> PathBuf {
    projects_root
        .join(project.id.to_string())
        .join(repo_name(&project.git_url))
}

fn is_checkout(path: &Path) -> bool {
    path.join(".git").exists()
}

/// The project's checkout on this host, if there is one.
pub fn locate(project: &Project, projects_root: &Path) -> Option<PathBuf> {
    if let Some(p) = project.local_path.as_deref().map(PathBuf::from) {
        if is_checkout(&p) {
            return Some(p);
        }
    }
    let target = clone_target(project, projects_root);
    is_checkout(&target).then_some(target)
}

/// The checkout, cloning `git_url` into the projects root when there is none; whether
/// it was cloned.
pub async fn locate_or_clone(
    project: &Project,
    projects_root: &Path,
) -> Result<(PathBuf, bool), RepoError> {
    if let Some(found) = locate(project, projects_root) {
        return Ok((found, false));
    }
    let target = clone_target(project, projects_root);
    let parent = target
        .parent()
        .ok_or_else(|| RepoError::Invalid("bad projects root".into()))?;
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|e| RepoError::Io(format!("create {}: {e}", parent.display())))?;
    if project.git_url.starts_with('-') {
        return Err(RepoError::Invalid("a git_url cannot start with `-`".into()));
    }
    let target_str = target.to_string_lossy().into_owned();
    git(
        parent,
        &["clone", "--quiet", "--", &project.git_url, &target_str],
    )
    .await?;
    Ok((target, true))
}

/// A branch name as git accepts it and as the routes may pass to git (no option, no
/// `..`, no control characters or spaces).
pub fn check_branch(branch: &str) -> Result<(), RepoError> {
    let ok = !branch.is_empty()
        && branch.len() <= 255
        && !branch.starts_with(['-', '/'])
        && !branch.ends_with(['/', '.'])
        && !branch.contains("..")
        && !branch.contains("//")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(RepoError::Invalid(format!(
            "invalid branch name `{branch}`"
        )))
    }
}

/// Whether the checkout has a remote named `origin`.
pub async fn has_origin(repo: &Path) -> Result<bool, RepoError> {
    Ok(git(repo, &["remote"]).await?.lines().any(|r| r == "origin"))
}

/// The branches on origin (after a fetch with prune), sorted, without `HEAD`.
pub async fn remote_branches(repo: &Path) -> Result<Vec<String>, RepoError> {
    if !has_origin(repo).await? {
        return Err(RepoError::Invalid(format!(
            "{} has no `origin` remote",
            repo.display()
        )));
    }
    git(repo, &["fetch", "--quiet", "--prune", "origin"]).await?;
    let out = git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:strip=3)",
            "refs/remotes/origin",
        ],
    )
    .await?;
    let mut names: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|b| *b != "HEAD" && !b.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes `branch` on origin.
pub async fn delete_remote_branch(repo: &Path, branch: &str) -> Result<(), RepoError> {
    check_branch(branch)?;
    git(repo, &["push", "--quiet", "origin", "--delete", branch]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_branches() {
        assert_eq!(repo_name("https://github.com/o/app.git"), "app");
        assert_eq!(repo_name("git@github.com:o/app.git"), "app");
        assert_eq!(repo_name("/srv/git/tool/"), "tool");
        assert_eq!(repo_name(".."), "repo");
        for ok in ["main", "feature/x-1", "0001-demo", "a.b"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-f", "../x", "a..b", "a b", "x/", "/x", "a//b", "a;b"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }
}
