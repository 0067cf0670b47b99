//! The setup run in the orchestrator process (`POST /projects/{id}/onboarding/actions/start`
//! with `{"inline": true}`): no worker, no engine. It produces the same
//! [`SetupOutcome`] as the `project_setup` skill of the pipeline worker, from the checks
//! this host can make with `git` ([`super::repo`]):
//!
//! - `resolve`: the project's checkout here, or a clone into `BATON_PROJECTS_ROOT`;
//! - `discovery`: always `skipped` (discovery needs an engine, which only workers run);
//! - `assets`: what the checkout holds that later jobs use (README, build files, CI);
//! - `git`: `origin` set (added from `git_url` when missing), fetched, base branch there;
//!   a missing base branch asks the blocking `base_branch` question (planning);
//! - `clarifications`: left `pending` for [`super::onboarding::apply_setup`], which adds
//!   the policy pack's questions and decides.
//!
//! Both this and the skill ask the non-blocking `ci_provider` question when the project
//! has no `ci_provider` and no CI file was found.

use super::model::{AppliesTo, NewClarification, Project};
use super::onboarding::{SetupOutcome, Stage, StageStatus};
use super::repo::{self, RepoError};
use baton_protocol::pipeline::ASSETS;
use serde_json::json;
use std::path::Path;

/// The asset kinds present in `repo`.
pub fn scan_assets(repo: &Path) -> Vec<&'static str> {
    ASSETS
        .iter()
        .filter(|(file, _)| repo.join(file).exists())
        .map(|(_, kind)| *kind)
        .collect()
}

/// Runs the setup here; never fails (a failure is a `failed` stage).
pub async fn run(project: &Project, projects_root: &Path) -> SetupOutcome {
    let mut out = SetupOutcome::default();
    let (repo, cloned) = match repo::locate_or_clone(project, projects_root).await {
        Ok(found) => found,
        Err(e) => {
            let why = match &e {
                RepoError::NoGit(_) => e.to_string(),
                _ => format!("repository not available: {e}"),
            };
            out.stages
                .push(Stage::new("resolve", StageStatus::Failed, why));
            return out;
        }
    };
    let path = repo.display().to_string();
    out.workspace_path = Some(path.clone());
    out.cloned = cloned;
    let how = if cloned {
        "cloned into"
    } else {
        "using the checkout at"
    };
    out.stages.push(Stage::new(
        "resolve",
        StageStatus::Completed,
        format!("{how} {path}"),
    ));
    out.stages.push(Stage::new(
        "discovery",
        StageStatus::Skipped,
        "inline setup runs no engine (start onboarding with inline=false for discovery on a worker)",
    ));
    let assets = scan_assets(&repo);
    let has_ci = assets
        .iter()
        .any(|a| a.ends_with("-ci") || *a == "github-actions");
    out.stages.push(if assets.is_empty() {
        Stage::new(
            "assets",
            StageStatus::Warning,
            "no README, build file or CI config found",
        )
    } else {
        Stage::new(
            "assets",
            StageStatus::Completed,
            format!("found: {}", assets.join(", ")),
        )
    });
    out.stages
        .push(git_stage(project, &repo, &mut out.clarifications).await);
    if project.ci_provider.is_none() && !has_ci {
        out.clarifications.push(ci_question());
    }
    out
}

/// The non-blocking question asked when no CI is known.
pub fn ci_question() -> NewClarification {
    NewClarification {
        key: "ci_provider".into(),
        question: "Which CI runs this repository's checks? None was found in the repository."
            .into(),
        recommended: Some(json!("github")),
        options: Some(json!(["github", "gitlab", "none"])),
        applies_to: AppliesTo::Onboarding,
        blocking: false,
    }
}

/// The blocking question asked when the base branch is not on origin.
pub fn base_branch_question(base: &str) -> NewClarification {
    NewClarification {
        key: "base_branch".into(),
        question: format!(
            "The base branch `{base}` is not on origin. Which branch should protocols start from?"
        ),
        recommended: None,
        options: None,
        applies_to: AppliesTo::Planning,
        blocking: true,
    }
}

async fn git_stage(project: &Project, repo: &Path, asks: &mut Vec<NewClarification>) -> Stage {
    let fail = |e: RepoError| Stage::new("git", StageStatus::Failed, e.to_string());
    match repo::has_origin(repo).await {
        Ok(true) => {}
        Ok(false) if project.git_url.starts_with('-') => {
            return Stage::new(
                "git",
                StageStatus::Failed,
                "a git_url cannot start with `-`",
            );
        }
        Ok(false) => {
            if let Err(e) = repo::git(repo, &["remote", "add", "origin", &project.git_url]).await {
                return fail(e);
            }
        }
        Err(e) => return fail(e),
    }
    if let Err(e) = repo::git(repo, &["fetch", "--quiet", "origin"]).await {
        return Stage::new(
            "git",
            StageStatus::Warning,
            format!("origin not reachable: {e}"),
        );
    }
    let base = &project.base_branch;
    let base_ref = format!("refs/remotes/origin/{base}");
    if repo::git(repo, &["rev-parse", "--verify", "--quiet", &base_ref])
        .await
        .is_err()
    {
        asks.push(base_branch_question(base));
        return Stage::new(
            "git",
            StageStatus::Warning,
            format!("origin fetched, but it has no branch `{base}`"),
        );
    }
    Stage::new(
        "git",
        StageStatus::Completed,
        format!("origin fetched; base branch `{base}` present"),
    )
}
