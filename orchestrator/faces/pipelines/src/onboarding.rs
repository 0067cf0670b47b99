//! Onboarding of a project (`project_setup`): its setup run, its stages, and a setup
//! outcome applied to the records.
//!
//! Data: every project has one **setup run**, a protocol run named `setup-<project_id>`
//! ([`setup_run_name`]) created with the project, so that onboarding events have a run
//! like every other event (upstream did the same). Its status is the onboarding status:
//! `pending` (not run, or a job is queued), `running`, then `completed`, `blocked` (open
//! blocking project clarifications) or `failed`. A setup **outcome** ([`SetupOutcome`],
//! what the `project_setup` skill or the inline setup answers) lists the five
//! [`STAGES`] (`resolve, discovery, assets, git, clarifications`) with a
//! [`StageStatus`] and message each, the workspace path, whether it cloned, and the
//! clarifications to ask. Nothing else is stored: the onboarding summary is read back
//! from the run's status and events (the final `setup_*` event carries the stages in its
//! metadata), so no new record kind is needed.
//!
//! [`apply_setup`] writes, in order: `setup_started`, `setup_cloned` (if it cloned),
//! `setup_discovery_*` (`skipped`, or `started` then `completed`/`warning`),
//! `setup_clarifications` (if any were asked), and one of `setup_completed`,
//! `setup_blocked`, `setup_failed`. `setup_enqueued` is written by whoever enqueues.

use super::model::{ClarificationScope, ClarificationStatus, Id, NewClarification, NewEvent};
use super::model::{NewProtocolRun, Project, ProjectUpdate, ProtocolRun};
use super::policy::PolicyPack;
use super::status::{ProtocolStatus, StatusName};
use super::store::{RecordResult, RecordStore, Transition};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The stages of a setup, in order.
pub const STAGES: [&str; 5] = ["resolve", "discovery", "assets", "git", "clarifications"];

/// Event types that end a setup (their metadata holds the stages).
pub const FINAL_EVENTS: [&str; 3] = ["setup_completed", "setup_blocked", "setup_failed"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    Running,
    Skipped,
    Warning,
    Blocked,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub status: StageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Stage {
    pub fn new(name: &str, status: StageStatus, message: impl Into<String>) -> Stage {
        Stage {
            name: name.into(),
            status,
            message: Some(message.into()),
        }
    }
}

/// Every stage `pending` (a setup not run yet).
pub fn pending_stages() -> Vec<Stage> {
    STAGES
        .iter()
        .map(|n| Stage {
            name: (*n).into(),
            status: StageStatus::Pending,
            message: None,
        })
        .collect()
}

/// What a setup answers (the `project_setup` job's result, or the inline setup's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetupOutcome {
    #[serde(default)]
    pub workspace_path: Option<String>,
    #[serde(default)]
    pub cloned: bool,
    #[serde(default)]
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub clarifications: Vec<NewClarification>,
    /// Engine, model and prompt versions of the discovery passes, for the record.
    #[serde(default)]
    pub discovery: Option<Value>,
}

impl SetupOutcome {
    fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The five stages in order, `pending` where the outcome has none.
    fn all_stages(&self) -> Vec<Stage> {
        pending_stages()
            .into_iter()
            .map(|p| self.stage(&p.name).cloned().unwrap_or(p))
            .collect()
    }
}

pub fn setup_run_name(project_id: Id) -> String {
    format!("setup-{project_id}")
}

/// The project's setup run, if it has one.
pub async fn find_setup_run(
    store: &dyn RecordStore,
    project_id: Id,
) -> RecordResult<Option<ProtocolRun>> {
    let name = setup_run_name(project_id);
    Ok(store
        .list_protocol_runs(project_id)
        .await?
        .into_iter()
        .find(|r| r.protocol_name == name))
}

/// The project's setup run, created when missing (projects made before onboarding).
pub async fn ensure_setup_run(
    store: &dyn RecordStore,
    project: &Project,
) -> RecordResult<ProtocolRun> {
    if let Some(run) = find_setup_run(store, project.id).await? {
        return Ok(run);
    }
    store
        .create_protocol_run(NewProtocolRun {
            project_id: project.id,
            protocol_name: setup_run_name(project.id),
            base_branch: project.base_branch.clone(),
            description: Some(format!("Onboarding of project {}", project.name)),
            ..NewProtocolRun::default()
        })
        .await
}

/// Every status but `running`: a setup may be (re)started from any of them.
pub fn not_running() -> Vec<ProtocolStatus> {
    ProtocolStatus::ALL
        .iter()
        .copied()
        .filter(|s| *s != ProtocolStatus::Running)
        .collect()
}

async fn event(
    store: &dyn RecordStore,
    run: Id,
    kind: &str,
    message: String,
    meta: &Value,
    extra: Value,
) -> RecordResult<()> {
    let mut metadata = meta.clone();
    if let (Value::Object(m), Value::Object(extra)) = (&mut metadata, extra) {
        m.extend(extra);
    }
    tracing::info!(protocol_run_id = run, event_type = kind, "{message}");
    store
        .append_event(NewEvent {
            protocol_run_id: run,
            step_run_id: None,
            event_type: kind.into(),
            message,
            metadata: Some(metadata),
        })
        .await
        .map(|_| ())
}

/// Moves the setup run from one of `from` to `running` and writes `setup_started`;
/// `Conflict` (nothing written) when it is in another status.
pub async fn begin(
    store: &dyn RecordStore,
    run: Id,
    from: &[ProtocolStatus],
    how: &str,
    meta: &Value,
) -> RecordResult<Transition<ProtocolStatus>> {
    let t = store
        .transition_protocol(run, from, ProtocolStatus::Running)
        .await?;
    if t.applied() {
        event(
            store,
            run,
            "setup_started",
            format!("setup started ({how})"),
            meta,
            json!({}),
        )
        .await?;
    }
    Ok(t)
}

/// Applies a setup outcome to a project whose setup run is `running` (see the module
/// docs for the events); the final status.
pub async fn apply_setup(
    store: &dyn RecordStore,
    project: &Project,
    run: Id,
    outcome: &SetupOutcome,
    meta: &Value,
) -> RecordResult<ProtocolStatus> {
    if outcome.cloned {
        let path = outcome.workspace_path.clone().unwrap_or_default();
        let msg = format!("cloned {} into {path}", project.git_url);
        event(
            store,
            run,
            "setup_cloned",
            msg,
            meta,
            json!({"workspace_path": path}),
        )
        .await?;
    }
    if let Some(d) = outcome.stage("discovery") {
        let msg = d.message.clone().unwrap_or_default();
        let extra = json!({"discovery": outcome.discovery});
        match d.status {
            StageStatus::Skipped | StageStatus::Pending => {
                event(store, run, "setup_discovery_skipped", msg, meta, extra).await?;
            }
            status => {
                let started = "repository discovery started".to_string();
                event(
                    store,
                    run,
                    "setup_discovery_started",
                    started,
                    meta,
                    json!({}),
                )
                .await?;
                let kind = if status == StageStatus::Completed {
                    "setup_discovery_completed"
                } else {
                    "setup_discovery_warning"
                };
                event(store, run, kind, msg, meta, extra).await?;
            }
        }
    }
    let mut stages = outcome.all_stages();
    let failed = stages.iter().any(|s| s.status == StageStatus::Failed);
    if !failed {
        let open = ask(store, project, run, &outcome.clarifications, meta).await?;
        let clar = stages.iter_mut().find(|s| s.name == "clarifications");
        if let Some(stage) = clar {
            if !open.is_empty() {
                *stage = Stage::new(
                    "clarifications",
                    StageStatus::Blocked,
                    format!("blocking questions open: {}", open.join(", ")),
                );
            } else if stage.status == StageStatus::Pending {
                *stage = Stage::new("clarifications", StageStatus::Completed, "nothing blocking");
            }
        }
    }
    if let Some(path) = outcome
        .workspace_path
        .as_ref()
        .filter(|_| project.local_path.is_none())
    {
        // Later jobs and the branch routes then find the checkout without recomputing.
        let update = ProjectUpdate {
            local_path: Some(path.clone()),
            ..ProjectUpdate::default()
        };
        store.update_project(project.id, update).await?;
    }
    let (to, kind) = if failed {
        (ProtocolStatus::Failed, "setup_failed")
    } else if stages.iter().any(|s| s.status == StageStatus::Blocked) {
        (ProtocolStatus::Blocked, "setup_blocked")
    } else {
        (ProtocolStatus::Completed, "setup_completed")
    };
    let summary: Vec<String> = stages
        .iter()
        .filter(|s| s.status != StageStatus::Completed)
        .map(|s| format!("{} {}", s.name, status_name(s.status)))
        .collect();
    let msg = if summary.is_empty() {
        format!("setup {}", to.as_str())
    } else {
        format!("setup {} ({})", to.as_str(), summary.join(", "))
    };
    // The event first: the summary reads the stages of a finished setup from it, so a
    // reader that sees the final status must find its event.
    let extra = json!({"stages": stages, "workspace_path": outcome.workspace_path});
    event(store, run, kind, msg, meta, extra).await?;
    store
        .transition_protocol(run, &[ProtocolStatus::Running], to)
        .await?;
    Ok(to)
}

/// A setup that could not run at all (its job failed or timed out).
pub async fn apply_setup_failure(
    store: &dyn RecordStore,
    project: &Project,
    run: Id,
    why: &str,
    meta: &Value,
) -> RecordResult<ProtocolStatus> {
    let mut stages = pending_stages();
    stages[0] = Stage::new("resolve", StageStatus::Failed, why);
    let outcome = SetupOutcome {
        stages,
        ..SetupOutcome::default()
    };
    apply_setup(store, project, run, &outcome, meta).await
}

fn status_name(s: StageStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Upserts the outcome's and the policy pack's questions (answers already given are
/// kept); the keys of the project's open blocking clarifications afterwards.
async fn ask(
    store: &dyn RecordStore,
    project: &Project,
    run: Id,
    asked: &[NewClarification],
    meta: &Value,
) -> RecordResult<Vec<String>> {
    let scope = ClarificationScope::Project(project.id);
    let mut all: Vec<NewClarification> = asked.to_vec();
    all.extend(PolicyPack::of(project).questions.iter().map(|q| q.to_new()));
    for q in &all {
        store.upsert_clarification(scope, q.clone()).await?;
    }
    let open: Vec<String> = store
        .list_clarifications(scope)
        .await?
        .into_iter()
        .filter(|c| c.blocking && c.status == ClarificationStatus::Open)
        .map(|c| c.key)
        .collect();
    if !all.is_empty() {
        let keys: Vec<&str> = all.iter().map(|q| q.key.as_str()).collect();
        let msg = format!(
            "{} question(s) asked: {}; open and blocking: {}",
            all.len(),
            keys.join(", "),
            if open.is_empty() {
                "none".to_string()
            } else {
                open.join(", ")
            }
        );
        event(
            store,
            run,
            "setup_clarifications",
            msg,
            meta,
            json!({"keys": keys, "blocking_open": open}),
        )
        .await?;
    }
    Ok(open)
}

/// A `project_setup` job ended: its result (when `finished`) or `why` it failed is
/// applied to the setup run `run`, if that run is `pending` (waiting for a job):
/// applied once, and not over a setup that ran inline meanwhile.
pub async fn job_ended(
    store: &dyn RecordStore,
    run: Id,
    finished: bool,
    result: &Value,
    why: &str,
    job_id: &str,
) -> RecordResult<ProtocolStatus> {
    let setup = store.get_protocol_run(run).await?;
    let project = store.get_project(setup.project_id).await?;
    let meta = json!({"job_id": job_id});
    // Enqueuing left the run `pending`; claiming it from there is what makes this
    // idempotent: a second delivery of the same end (timers may fire twice, even at
    // once) finds it `running` or finished and changes nothing.
    let claim = begin(
        store,
        run,
        &[ProtocolStatus::Pending],
        "project_setup job",
        &meta,
    )
    .await?;
    if let Transition::Conflict { current } = claim {
        tracing::info!(protocol_run_id = run, job_id, %current, "setup outcome not applied: the setup run is not waiting for a job");
        return Ok(current);
    }
    if !finished {
        return apply_setup_failure(
            store,
            &project,
            run,
            &format!("setup job failed: {why}"),
            &meta,
        )
        .await;
    }
    match serde_json::from_value::<SetupOutcome>(result.clone()) {
        Ok(outcome) => apply_setup(store, &project, run, &outcome, &meta).await,
        Err(e) => {
            let why = format!("the setup job answered an unreadable outcome: {e}");
            apply_setup_failure(store, &project, run, &why, &meta).await
        }
    }
}

#[cfg(test)]
#[path = "onboarding_tests.rs"]
mod tests;
