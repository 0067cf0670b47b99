//! Conformance cases of runs, their logs and artifacts, and the queue index.

use super::Store;
use crate::runs::*;
use crate::store::*;
use serde_json::json;

fn a_run(run_id: &str, job_id: &str, step: Option<u64>, status: RunStatus) -> Run {
    Run {
        run_id: run_id.into(),
        job_id: job_id.into(),
        job_type: "execute_step".into(),
        status,
        run_kind: run_kind_of("execute_step"),
        project_id: Some(1),
        protocol_run_id: Some(2),
        step_run_id: step,
        attempt: 1,
        worker_id: Some("w-1".into()),
        started_at: Some(1_000),
        finished_at: Some(2_000),
        params: json!({"step_name": "01-a.md"}),
        result: json!({"success": true}),
        error: None,
        log_path: format!("/codex/runs/{run_id}/logs"),
        log_bytes: 0,
        log_truncated: false,
        cost_tokens: Some(12),
        cost_cents: None,
        created_at: 2_000,
    }
}

fn artifact(run_id: &str, name: &str, kind: &str, content: &str) -> NewArtifact {
    NewArtifact {
        meta: RunArtifact {
            id: 0,
            run_id: run_id.into(),
            name: name.into(),
            kind: kind.into(),
            path: format!(".protocols/x/{name}"),
            sha256: crate::run_report::sha256_hex(content),
            bytes: content.len() as u64,
            truncated: false,
            created_at: 2_000,
        },
        content: content.into(),
    }
}

pub async fn runs_upsert_with_logs_and_artifacts(store: Store) {
    let first = a_run("t-1", "j-1", Some(5), RunStatus::Failed);
    store
        .record_run(
            first.clone(),
            "attempt one\n".into(),
            vec![artifact("t-1", "out.md", "output", "one")],
        )
        .await
        .expect("record");
    let second = RunStatus::Succeeded;
    let mut retry = a_run("t-2", "j-1", Some(5), second);
    retry.attempt = 2;
    store
        .record_run(
            retry.clone(),
            "attempt two\n".into(),
            vec![
                artifact("t-2", "out.md", "output", "two"),
                artifact("t-2", "quality-report.md", "qa_report", "VERDICT: PASS"),
            ],
        )
        .await
        .expect("record");
    store
        .record_run(
            a_run("t-3", "j-2", None, RunStatus::Succeeded),
            String::new(),
            vec![],
        )
        .await
        .expect("record");
    assert_eq!(store.get_run("t-1").await.expect("get"), first);
    assert_eq!(store.run_log("t-2").await.expect("log"), "attempt two\n");
    assert_eq!(store.run_log("t-3").await.expect("log"), "");

    let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
    let all = RunFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_runs(&all).await.expect("list")),
        ["t-3", "t-2", "t-1"]
    );
    let of_step = RunFilter {
        step_run_id: Some(5),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_runs(&of_step).await.expect("list")),
        ["t-2", "t-1"]
    );
    let failed = RunFilter {
        status: Some(RunStatus::Failed),
        protocol_run_id: Some(2),
        ..all.clone()
    };
    assert_eq!(ids(store.list_runs(&failed).await.expect("list")), ["t-1"]);
    let limited = RunFilter {
        limit: 1,
        ..all.clone()
    };
    assert_eq!(ids(store.list_runs(&limited).await.expect("list")), ["t-3"]);
    let other = RunFilter {
        run_kind: Some("qa".into()),
        ..all.clone()
    };
    assert!(store.list_runs(&other).await.expect("list").is_empty());
    let other_project = RunFilter {
        project_id: Some(99),
        ..all.clone()
    };
    assert!(store
        .list_runs(&other_project)
        .await
        .expect("list")
        .is_empty());

    // Recording again (a retried result) replaces, keeps the order and the artifact ids.
    let arts = store.list_artifacts("t-2", None, 100).await.expect("arts");
    assert_eq!(arts.len(), 2);
    assert!(arts[0].id < arts[1].id);
    assert_eq!(arts[0].name, "out.md");
    let mut again = retry.clone();
    again.cost_tokens = Some(99);
    store
        .record_run(
            again.clone(),
            "attempt two, again\n".into(),
            vec![artifact("t-2", "out.md", "output", "two, again")],
        )
        .await
        .expect("record again");
    assert_eq!(store.get_run("t-2").await.expect("get"), again);
    assert_eq!(
        ids(store.list_runs(&all).await.expect("list")),
        ["t-3", "t-2", "t-1"]
    );
    let arts_again = store.list_artifacts("t-2", None, 100).await.expect("arts");
    assert_eq!(
        arts_again.iter().map(|a| a.id).collect::<Vec<_>>(),
        arts.iter().map(|a| a.id).collect::<Vec<_>>()
    );
    let (meta, content) = store
        .artifact_content("t-2", arts[0].id)
        .await
        .expect("content");
    assert_eq!(
        (meta.name.as_str(), content.as_str()),
        ("out.md", "two, again")
    );
    assert_eq!(meta.bytes, 10);
    let qa = store
        .list_artifacts("t-2", Some("qa_report"), 100)
        .await
        .expect("arts");
    assert_eq!(qa.len(), 1);
    assert_eq!(qa[0].name, "quality-report.md");
    assert_eq!(
        store
            .list_artifacts("t-2", None, 1)
            .await
            .expect("arts")
            .len(),
        1
    );
    assert!(store
        .list_artifacts("t-3", None, 10)
        .await
        .expect("arts")
        .is_empty());

    // Unknown runs and artifacts of another run are not found.
    let not_found = |r: RecordResult<()>| matches!(r, Err(RecordError::NotFound { .. }));
    assert!(not_found(store.get_run("nope").await.map(|_| ())));
    assert!(not_found(store.run_log("nope").await.map(|_| ())));
    assert!(not_found(
        store.list_artifacts("nope", None, 10).await.map(|_| ())
    ));
    assert!(not_found(
        store.artifact_content("t-1", arts[1].id).await.map(|_| ())
    ));
    assert!(not_found(
        store.artifact_content("t-2", 999_999).await.map(|_| ())
    ));
}

pub async fn queue_index_newest_first(store: Store) {
    assert!(store.list_jobs(10).await.expect("jobs").is_empty());
    for i in 0..3 {
        store
            .index_job(QueueJob {
                job_id: format!("j-{i}"),
                job_type: "plan_protocol".into(),
                payload: json!({"protocol_run_id": i}),
                project_id: Some(1),
                protocol_run_id: Some(i),
                step_run_id: None,
                created_at: 100 + i as i64,
                started_at: None,
            })
            .await
            .expect("index");
    }
    let jobs = store.list_jobs(2).await.expect("jobs");
    let ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["j-2", "j-1"]);
    assert_eq!(jobs[0].payload, json!({"protocol_run_id": 2}));
    assert_eq!(jobs[0].started_at, None);
    // A recorded attempt stamps its job's start, once.
    let mut run = a_run("t-9", "j-1", None, RunStatus::Succeeded);
    run.started_at = Some(5_000);
    store
        .record_run(run.clone(), String::new(), vec![])
        .await
        .expect("record");
    run.run_id = "t-10".into();
    run.started_at = Some(6_000);
    store
        .record_run(run, String::new(), vec![])
        .await
        .expect("record");
    let jobs = store.list_jobs(0).await.expect("jobs");
    assert_eq!(jobs.len(), 1, "0 means the least");
    let all = store.list_jobs(usize::MAX).await.expect("jobs");
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].job_id, "j-1");
    assert_eq!(all[1].started_at, Some(5_000));
}
