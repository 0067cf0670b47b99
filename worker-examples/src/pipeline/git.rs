//! Git for the pipeline worker, through the `git` CLI (what users have, with their
//! credentials and config): the project's repository, one worktree per protocol branch,
//! commit and push, branch listing and deletion.
//!
//! Layout under a project's repository `<repo>`: worktrees live beside it in
//! `<repo>.worktrees/<branch>`, so the main checkout is never switched away from its
//! branch and several protocol runs of one project can work at once.

pub use baton_protocol::pipeline::repo_name;
use std::path::{Path, PathBuf};
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git {args} failed ({status}): {stderr}")]
    Failed {
        args: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run git: {0}")]
    Spawn(String),
    #[error("{0}")]
    Invalid(String),
}

/// Who commits: set per command (`-c user.name=...`), never in the user's config.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            name: "Baton pipeline".into(),
            email: "baton@localhost".into(),
        }
    }
}

/// Runs `git args` in `dir`; stdout on success.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(|e| GitError::Spawn(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The project's repository: `local_path` when it is a checkout, else a clone of
/// `git_url` under `<projects_root>/<project_id>/<repo_name>` (made once, reused).
pub async fn ensure_repo(
    git_url: &str,
    local_path: Option<&Path>,
    projects_root: &Path,
    project_id: u64,
) -> Result<PathBuf, GitError> {
    if let Some(path) = local_path {
        if path.join(".git").exists() {
            return Ok(path.to_path_buf());
        }
    }
    let target = projects_root
        .join(project_id.to_string())
        .join(repo_name(git_url));
    if target.join(".git").exists() {
        return Ok(target);
    }
    let parent = target
        .parent()
        .ok_or_else(|| GitError::Invalid("bad projects root".into()))?;
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|e| GitError::Spawn(format!("create {}: {e}", parent.display())))?;
    // Cloned beside the target and renamed into place: two skills of one project (say
    // its onboarding and its first plan, run at once by one worker or by two on this
    // host) may both find no clone; the first rename wins, and the other uses its clone.
    let tmp = parent.join(format!(
        ".{}.cloning-{}-{}",
        repo_name(git_url),
        std::process::id(),
        CLONES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let tmp_str = tmp.to_string_lossy().into_owned();
    let cloned = git(parent, &["clone", "--quiet", "--", git_url, &tmp_str]).await;
    let placed = match cloned {
        Ok(_) => tokio::fs::rename(&tmp, &target)
            .await
            .map_err(|e| GitError::Spawn(format!("rename clone to {}: {e}", target.display()))),
        Err(e) => Err(e),
    };
    if placed.is_err() {
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        if target.join(".git").exists() {
            return Ok(target);
        }
    }
    placed.map(|_| target)
}

/// Numbers the temporary clone directories of this process.
static CLONES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Branch names are used as directory names: refuse anything that could escape.
fn check_branch(branch: &str) -> Result<(), GitError> {
    let ok = !branch.is_empty()
        && !branch.starts_with('-')
        && !branch.contains("..")
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(GitError::Invalid(format!("unsafe branch name `{branch}`")))
    }
}

/// The worktree of `branch` (created from `origin/<base>`, or `<base>` without a remote;
/// reused when it exists).
pub async fn worktree(repo: &Path, branch: &str, base: &str) -> Result<PathBuf, GitError> {
    check_branch(branch)?;
    check_branch(base)?;
    let mut root = repo.as_os_str().to_owned();
    root.push(".worktrees");
    let dir = PathBuf::from(root).join(branch);
    if dir.join(".git").exists() {
        return Ok(dir);
    }
    let has_origin = git(repo, &["remote"]).await?.lines().any(|r| r == "origin");
    let start = if has_origin {
        git(repo, &["fetch", "--quiet", "origin", base]).await?;
        format!("origin/{base}")
    } else {
        base.to_string()
    };
    let dir_str = dir.to_string_lossy().into_owned();
    git(
        repo,
        &["worktree", "add", "--quiet", "-B", branch, &dir_str, &start],
    )
    .await?;
    Ok(dir)
}

/// Commits everything in `dir`; the new commit's sha, or `None` when nothing changed.
pub async fn commit_all(
    dir: &Path,
    message: &str,
    who: &Identity,
) -> Result<Option<String>, GitError> {
    git(dir, &["add", "-A"]).await?;
    if git(dir, &["status", "--porcelain"])
        .await?
        .trim()
        .is_empty()
    {
        return Ok(None);
    }
    let name = format!("user.name={}", who.name);
    let email = format!("user.email={}", who.email);
    git(
        dir,
        &[
            "-c", &name, "-c", &email, "commit", "--quiet", "-m", message,
        ],
    )
    .await?;
    Ok(Some(
        git(dir, &["rev-parse", "HEAD"]).await?.trim().to_string(),
    ))
}

/// Pushes `branch` to origin (creating it there).
pub async fn push(dir: &Path, branch: &str) -> Result<(), GitError> {
    check_branch(branch)?;
    git(dir, &["push", "--quiet", "-u", "origin", branch]).await?;
    Ok(())
}

/// The branches on origin (after a fetch), without `origin/` and `HEAD`.
pub async fn remote_branches(repo: &Path) -> Result<Vec<String>, GitError> {
    git(repo, &["fetch", "--quiet", "--prune", "origin"]).await?;
    let out = git(repo, &["branch", "-r", "--format=%(refname:short)"]).await?;
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("origin/"))
        .filter(|b| *b != "HEAD" && !b.is_empty())
        .map(str::to_string)
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes `branch` on origin.
pub async fn delete_remote_branch(repo: &Path, branch: &str) -> Result<(), GitError> {
    check_branch(branch)?;
    git(repo, &["push", "--quiet", "origin", "--delete", branch]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare origin with one commit on `main`.
    async fn origin(root: &Path) -> PathBuf {
        let origin = root.join("origin.git");
        let seed = root.join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        git(
            root,
            &[
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        )
        .await
        .unwrap();
        git(&seed, &["init", "--quiet", "-b", "main"])
            .await
            .unwrap();
        std::fs::write(seed.join("README.md"), "hello\n").unwrap();
        commit_all(&seed, "first", &Identity::default())
            .await
            .unwrap();
        git(
            &seed,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        )
        .await
        .unwrap();
        git(&seed, &["push", "--quiet", "origin", "main"])
            .await
            .unwrap();
        origin
    }

    #[test]
    fn repo_names() {
        assert_eq!(repo_name("https://github.com/o/app.git"), "app");
        assert_eq!(repo_name("git@github.com:o/app.git"), "app");
        assert_eq!(repo_name("/srv/git/tool/"), "tool");
        assert!(check_branch("0001-demo").is_ok());
        assert!(check_branch("../x").is_err() && check_branch("-f").is_err());
    }

    #[tokio::test]
    async fn concurrent_first_clones_of_a_project_both_succeed() {
        let root = std::env::temp_dir().join(format!("baton-git-race-{}", uuid_like()));
        std::fs::create_dir_all(&root).unwrap();
        let url = origin(&root).await.to_string_lossy().into_owned();
        let projects = root.join("projects");
        let clones: Vec<_> = (0..4)
            .map(|_| {
                let (url, projects) = (url.clone(), projects.clone());
                tokio::spawn(async move { ensure_repo(&url, None, &projects, 3).await })
            })
            .collect();
        for c in clones {
            assert_eq!(c.await.unwrap().unwrap(), projects.join("3/origin"));
        }
        assert!(projects.join("3/origin/README.md").exists());
        let left: Vec<_> = std::fs::read_dir(projects.join("3"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("origin")],
            "no temporary clone left"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn clone_worktree_commit_push_and_branches() {
        let root = std::env::temp_dir().join(format!("baton-git-{}", uuid_like()));
        std::fs::create_dir_all(&root).unwrap();
        let origin = origin(&root).await;
        let url = origin.to_string_lossy().into_owned();
        let repo = ensure_repo(&url, None, &root.join("projects"), 7)
            .await
            .unwrap();
        assert_eq!(repo, root.join("projects/7/origin"));
        // Reused, not cloned twice.
        assert_eq!(
            ensure_repo(&url, None, &root.join("projects"), 7)
                .await
                .unwrap(),
            repo
        );

        let wt = worktree(&repo, "0001-demo", "main").await.unwrap();
        assert!(wt.join("README.md").exists());
        assert_eq!(worktree(&repo, "0001-demo", "main").await.unwrap(), wt);
        assert_eq!(
            commit_all(&wt, "nothing", &Identity::default())
                .await
                .unwrap(),
            None
        );
        std::fs::write(wt.join("plan.md"), "# plan\n").unwrap();
        let sha = commit_all(&wt, "add plan", &Identity::default())
            .await
            .unwrap()
            .expect("a commit");
        push(&wt, "0001-demo").await.unwrap();
        let on_origin = git(&origin, &["rev-parse", "0001-demo"]).await.unwrap();
        assert_eq!(on_origin.trim(), sha);
        assert_eq!(
            remote_branches(&repo).await.unwrap(),
            vec!["0001-demo", "main"]
        );
        delete_remote_branch(&repo, "0001-demo").await.unwrap();
        assert_eq!(remote_branches(&repo).await.unwrap(), vec!["main"]);
        let _ = std::fs::remove_dir_all(&root);
    }

    fn uuid_like() -> String {
        format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        )
    }
}
