//! Parallel states: many tasks at once, one aggregate when all are done.
//!
//! Entering the state builds a [`ParallelRun`] with one [`BranchRun`] per fixed task or
//! per item of the `items` list, and dispatches as many as `max_concurrency` allows. Each
//! branch task has its own lease, retries and result (see [`super::tasks`]). When a
//! branch is done the next pending one starts; when all are, the state's outcome is put
//! in the context and `success` is followed:
//!
//! ```json
//! {"status": "success", "data": {"a": ..., "b": ...} | [..., ...],
//!  "branches": [{"key", "status", "data", "error", "worker_id", "attempts"}],
//!  "errors": [{"key", "error"}]}
//! ```
//!
//! `data` is keyed by task name for fixed branches and in item order for a map. Under
//! `fail_fast` the first branch that fails for good stops the others (their workers are
//! told) and the state fails; under `collect` failed branches are listed in `errors` and
//! the state still succeeds, so the aggregate state decides.

use super::flow::{unhandled_status, Tx};
use super::job::{BranchRun, ParallelRun};
use super::tasks::Lane;
use baton_blueprint::{template, Branches, OnFailure, ParallelState, StateKind};
use baton_protocol::{job_status, TASK_STATUS_FAILURE};
use serde_json::{json, Map, Value};

impl Tx<'_> {
    pub(super) fn enter_parallel(&mut self, ps: &ParallelState) {
        let branches: Vec<BranchRun> = match &ps.branches {
            Branches::Fixed(list) => list
                .iter()
                .map(|(key, _)| BranchRun::new(key.clone(), None))
                .collect(),
            Branches::Map { items, .. } => {
                let ctx = self.doc.context(&self.job_id);
                match template::lookup(&ctx, items) {
                    Some(Value::Array(list)) => list
                        .iter()
                        .enumerate()
                        .map(|(i, item)| BranchRun::new(i.to_string(), Some(item.clone())))
                        .collect(),
                    other => {
                        let found = other.map_or("nothing".to_string(), |v| kind_of(v).into());
                        let error = json!({"code": "INVALID_INPUT_ERROR", "message": format!("`{items}` must be a list to run one task per item, found {found}")});
                        self.fail_state(error, job_status::FAILED);
                        return;
                    }
                }
            }
        };
        let total = branches.len();
        self.doc.parallel = Some(ParallelRun { branches });
        self.commit.status = job_status::WAITING_FOR_PARALLEL_TASKS.into();
        self.history(
            "parallel_started",
            json!({"branches": total, "max_concurrency": ps.max_concurrency}),
        );
        self.start_branches(ps);
        self.maybe_aggregate();
    }

    /// Starts pending branches while the concurrency cap allows.
    fn start_branches(&mut self, ps: &ParallelState) {
        let Some(run) = &self.doc.parallel else {
            return;
        };
        let cap = ps.max_concurrency.unwrap_or(usize::MAX);
        let running = run.branches.iter().filter(|b| b.task_id.is_some()).count();
        let pending: Vec<usize> = run
            .branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.task_id.is_none() && !b.is_done())
            .map(|(i, _)| i)
            .take(cap.saturating_sub(running))
            .collect();
        for i in pending {
            self.dispatch(Lane::Branch(i), None);
        }
    }

    /// Branch `i` is done (its task already removed from the job).
    pub(super) fn branch_done(
        &mut self,
        i: usize,
        status: &str,
        data: Option<Value>,
        error: Option<Value>,
        worker_id: Option<&str>,
    ) {
        let Some(StateKind::Parallel(ps)) = self.bp.state(&self.doc.state).map(|s| &s.kind) else {
            return;
        };
        let Some(branch) = self
            .doc
            .parallel
            .as_mut()
            .and_then(|p| p.branches.get_mut(i))
        else {
            return;
        };
        branch.task_id = None;
        branch.status = Some(status.to_string());
        branch.data = data;
        branch.error = error.clone();
        branch.worker_id = worker_id.map(str::to_string);
        let key = branch.key.clone();
        let attempts = branch.run.attempt;
        self.history(
            "branch_finished",
            json!({"branch": key, "result_status": status, "worker_id": worker_id, "attempts": attempts, "error": error}),
        );
        if status == TASK_STATUS_FAILURE && ps.on_failure == OnFailure::FailFast {
            let error = error.unwrap_or(Value::Null);
            let status = unhandled_status(&error);
            let told = self.remove_all_tasks();
            self.record_aggregate(ps, TASK_STATUS_FAILURE);
            let message = format!(
                "branch `{key}` failed; {} other running task(s) stopped",
                told.len()
            );
            let error =
                json!({"code": "BRANCH_FAILED", "message": message, "branch": key, "error": error});
            self.fail_state(error, status);
            return;
        }
        self.start_branches(ps);
        self.maybe_aggregate();
    }

    /// When every branch is done: record the aggregate and follow `success`.
    fn maybe_aggregate(&mut self) {
        let Some(StateKind::Parallel(ps)) = self.bp.state(&self.doc.state).map(|s| &s.kind) else {
            return;
        };
        let all_done = self
            .doc
            .parallel
            .as_ref()
            .is_some_and(|p| p.branches.iter().all(BranchRun::is_done));
        if all_done {
            self.record_aggregate(ps, "success");
            self.follow("success");
        }
    }

    fn record_aggregate(&mut self, ps: &ParallelState, status: &str) {
        let Some(run) = self.doc.parallel.take() else {
            return;
        };
        let data = match &ps.branches {
            Branches::Fixed(_) => Value::Object(
                run.branches
                    .iter()
                    .map(|b| (b.key.clone(), b.data.clone().unwrap_or(Value::Null)))
                    .collect::<Map<String, Value>>(),
            ),
            Branches::Map { .. } => Value::Array(
                run.branches
                    .iter()
                    .map(|b| b.data.clone().unwrap_or(Value::Null))
                    .collect(),
            ),
        };
        let branches: Vec<Value> = run
            .branches
            .iter()
            .map(|b| json!({"key": b.key, "status": b.status, "data": b.data, "error": b.error, "worker_id": b.worker_id, "attempts": b.run.attempt}))
            .collect();
        let errors: Vec<Value> = run
            .branches
            .iter()
            .filter(|b| b.failed())
            .map(|b| json!({"key": b.key, "error": b.error}))
            .collect();
        self.history(
            "parallel_finished",
            json!({"status": status, "branches": branches.len(), "failed": errors.len()}),
        );
        let state = self.doc.state.clone();
        self.doc.states.insert(
            state.clone(),
            json!({"status": status, "data": data, "branches": branches, "errors": errors}),
        );
        self.doc.last_state = Some(state);
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::job::JobDoc;
    use baton_blueprint::load_str;
    use baton_store::Expect;
    use serde_json::json;

    const MAP: &str = r#"
name: map
endpoint: /jobs/map
states:
  each:
    type: parallel
    start: true
    items: initial_data.items
    task: echo
    params: { v: "{{ item }}", i: "{{ branch.index }}" }
    max_concurrency: 2
    transitions:
      success: done
  done:
    type: end
    status: finished
    result: "{{ states.each.data }}"
"#;

    fn entered(items: serde_json::Value) -> (JobDoc, baton_store::Commit) {
        let cfg = EngineConfig::default();
        let bp = load_str("map.yaml", MAP).unwrap();
        let doc = JobDoc {
            initial_data: json!({ "items": items }),
            ..JobDoc::default()
        };
        let mut tx = Tx::new(&cfg, &bp, "j1", Expect::New, "pending", doc, 1_000);
        tx.enter("each");
        if !tx.commit.enqueue.is_empty() {
            // Finish branch 0: the cap lets the next pending branch start.
            tx.task_outcome(Lane::Branch(0), "success", Some(&json!("r0")), None, "w");
        }
        let doc = tx.doc.clone();
        (doc, tx.into_commit())
    }

    #[test]
    fn a_map_starts_up_to_the_cap_and_renders_each_item() {
        let (doc, commit) = entered(json!(["a", "b", "c", "d", "e"]));
        assert_eq!(commit.status, "waiting_for_parallel_tasks");
        // Two at first, a third once branch 0 finished.
        assert_eq!(commit.enqueue.len(), 3);
        let run = doc.parallel.expect("parallel run");
        assert_eq!(run.branches.len(), 5);
        assert_eq!(run.branches[0].status.as_deref(), Some("success"));
        let running: Vec<usize> = (0..5)
            .filter(|i| run.branches[*i].task_id.is_some())
            .collect();
        assert_eq!(running, vec![1, 2]);
        let payloads: Vec<serde_json::Value> = commit
            .store_tasks
            .iter()
            .map(|(_, blob)| {
                serde_json::from_str::<serde_json::Value>(&blob.payload).unwrap()["params"].clone()
            })
            .collect();
        assert_eq!(payloads[0], json!({"v": "a", "i": 0}));
        assert_eq!(payloads[2], json!({"v": "c", "i": 2}));
    }

    #[test]
    fn an_empty_list_aggregates_at_once_and_a_non_list_fails() {
        let (doc, commit) = entered(json!([]));
        assert_eq!(commit.status, "finished");
        assert_eq!(doc.result, Some(json!([])));
        let (doc, commit) = entered(json!("not a list"));
        assert_eq!(commit.status, "failed");
        let error = doc.error.expect("error");
        assert_eq!(error["code"], "INVALID_INPUT_ERROR");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("found a string"),
            "{error}"
        );
    }
}
