//! The OpenAPI document and the docs page as a reader gets them, and live answers checked
//! against the document's schemas (every property an answer has is documented, every
//! required one is there, types agree), so a handler that grows a field its schema lacks
//! fails here.

use baton_tests::raw_worker::RawWorker;
use baton_tests::{init_tracing, orchestrator::test_config, Client, Orchestrator};
use serde_json::{json, Value};
use std::time::Duration;

async fn fetch(orch: &Orchestrator, path: &str) -> (u16, String, String) {
    let resp = reqwest::get(format!("{}{path}", orch.base_url))
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, resp.text().await.expect("body read"))
}

async fn document(orch: &Orchestrator) -> Value {
    let (status, content_type, body) = fetch(orch, "/_public/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&body).expect("the document is JSON")
}

#[tokio::test]
async fn openapi_document_is_served_without_a_token_and_lists_the_blueprints() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let doc = document(&orch).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let echo = &doc["paths"]["/api/v1/jobs/echo"]["post"];
    assert_eq!(echo["operationId"], "create_echo_job", "{echo}");
    assert!(doc["paths"]["/api/{version}/{endpoint}"]["post"].is_object());
    assert!(doc["paths"]["/_worker/workers/{id}/tasks/next"]["get"].is_object());
    assert!(doc["components"]["securitySchemes"]["client_token"].is_object());
    // Built once, then the same bytes.
    let again = document(&orch).await;
    assert_eq!(doc, again);
    orch.stop().await;
}

#[tokio::test]
async fn docs_page_is_html_that_loads_the_document() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let (status, content_type, body) = fetch(&orch, "/_public/docs").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<html"), "{body}");
    assert!(body.contains("/_public/openapi.json"), "{body}");
    assert!(body.contains("SwaggerUIBundle"), "{body}");
    // Everything the page loads comes from the orchestrator itself: it works offline.
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "{body}"
    );
    assert!(body.contains("validatorUrl: null"), "{body}");
    for (asset, kind) in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("LICENSE", "text/plain"),
    ] {
        let (status, content_type, body) =
            fetch(&orch, &format!("/_public/docs/assets/{asset}")).await;
        assert_eq!(status, 200, "{asset}");
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
        assert!(
            body.len() > 1000 || asset == "LICENSE",
            "{asset}: {} bytes",
            body.len()
        );
    }
    let (status, _, body) = fetch(&orch, "/_public/docs/assets/nope.js").await;
    assert_eq!(status, 404, "{body}");
    orch.stop().await;
}

/// Follows `$ref` and merges `allOf` into one `(properties, required, additional)`.
fn flatten<'a>(doc: &'a Value, schema: &'a Value) -> (Vec<(String, &'a Value)>, Vec<String>, bool) {
    let schema = resolve(doc, schema);
    let mut props: Vec<(String, &Value)> = schema["properties"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut additional = schema
        .get("additionalProperties")
        .is_some_and(|a| a != false);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (p, r, a) = flatten(doc, part);
        props.extend(p);
        required.extend(r);
        additional |= a;
    }
    (props, required, additional)
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "unresolved {r}");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A small structural check: enough to catch drift between handlers and schemas.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(doc, schema);
    if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() {
        return;
    }
    if let Some(t) = schema.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let got = type_name(value);
        let ok = allowed.contains(&got) || (got == "integer" && allowed.contains(&"number"));
        assert!(ok, "{at}: {got} where the document says {t}: {value}");
    }
    match value {
        Value::Object(map) => {
            let (props, required, additional) = flatten(doc, schema);
            if props.is_empty() && required.is_empty() {
                return; // a free-form object
            }
            for key in &required {
                assert!(
                    map.contains_key(key),
                    "{at}: required `{key}` missing in {value}"
                );
            }
            for (key, v) in map {
                match props.iter().find(|(k, _)| k == key) {
                    Some((_, s)) => check(doc, s, v, &format!("{at}.{key}")),
                    None => assert!(additional, "{at}: `{key}` is not documented ({value})"),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(doc, item_schema, item, &format!("{at}[{i}]"));
                }
            }
        }
        _ => {}
    }
}

/// Checks an answer against the schema the document gives for `method path status`.
fn check_answer(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = &op["responses"][status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path}: {status} is not documented"
    );
    let schema = &resp["content"]["application/json"]["schema"];
    check(doc, schema, body, &format!("{method} {path} {status}"));
}

#[tokio::test]
async fn live_answers_match_the_documented_schemas() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let doc = document(&orch).await;
    let client = Client::new(&orch.base_url);
    let worker = RawWorker::new(&orch.base_url, "doc-worker");

    let (s, b) = client.get("/_public/status").await;
    check_answer(&doc, "get", "/_public/status", s, &b);
    let (s, b) = worker.register(&["echo"]).await;
    check_answer(&doc, "post", "/_worker/workers/register", s, &b);
    let (s, b) = worker.heartbeat(None).await;
    check_answer(&doc, "patch", "/_worker/workers/{id}", s, &b);

    let (s, b) = client
        .post(
            "/api/v1/jobs/echo",
            json!({"initial_data": {"message": "hi"}}),
        )
        .await;
    check_answer(&doc, "post", "/api/v1/jobs/echo", s, &b);
    let job_id = b["job_id"].as_str().expect("job id").to_string();
    let (s, task) = worker.poll("echo", 5).await;
    check_answer(&doc, "get", "/_worker/workers/{id}/tasks/next", s, &task);
    let job_path = format!("/api/v1/jobs/{job_id}");
    let (s, b) = client.get(&job_path).await;
    assert!(b["tasks"][0]["worker_id"].is_string(), "running: {b}");
    check_answer(&doc, "get", "/api/v1/jobs/{id}", s, &b);
    for (action, status) in [("pause", 200), ("pause", 409), ("resume", 200)] {
        let (s, b) = client
            .post(&format!("{job_path}/{action}"), json!({}))
            .await;
        assert_eq!(s, status, "{action}: {b}");
        check_answer(
            &doc,
            "post",
            &format!("/api/v1/jobs/{{id}}/{action}"),
            s,
            &b,
        );
    }
    let (s, b) = worker
        .heartbeat(Some(
            worker.sign(json!({"worker_id": "doc-worker", "status": "busy"})),
        ))
        .await;
    check_answer(&doc, "patch", "/_worker/workers/{id}", s, &b);
    let (s, b) = client.get("/api/v1/workers").await;
    assert_eq!(b.as_array().map(Vec::len), Some(1), "{b}");
    check_answer(&doc, "get", "/api/v1/workers", s, &b);

    let (s, b) = worker
        .result(worker.success(&task, json!({"echo": "hi"})))
        .await;
    check_answer(&doc, "post", "/_worker/tasks/result", s, &b);
    let done = client
        .wait_status(&job_id, "finished", Duration::from_secs(10))
        .await;
    check_answer(&doc, "get", "/api/v1/jobs/{id}", 200, &done);
    let (s, b) = client.get(&format!("{job_path}/history")).await;
    check_answer(&doc, "get", "/api/v1/jobs/{id}/history", s, &b);
    let (s, b) = client.post(&format!("{job_path}/cancel"), json!({})).await;
    assert_eq!(s, 409, "{b}");
    check_answer(&doc, "post", "/api/v1/jobs/{id}/cancel", s, &b);
    let (s, b) = client.post(&format!("{job_path}/retry"), json!({})).await;
    assert_eq!(s, 409, "a finished job does not run again: {b}");
    check_answer(&doc, "post", "/api/v1/jobs/{id}/retry", s, &b);

    let (s, b) = client.get("/api/v1/dashboard").await;
    check_answer(&doc, "get", "/api/v1/dashboard", s, &b);
    let (s, b) = client.get("/api/v1/blueprints").await;
    check_answer(&doc, "get", "/api/v1/blueprints", s, &b);
    let (s, b) = client.get("/api/v1/blueprints/echo").await;
    check_answer(&doc, "get", "/api/v1/blueprints/{name}", s, &b);
    let (s, b) = Client::with_token(&orch.base_url, "wrong")
        .get(&job_path)
        .await;
    check_answer(&doc, "get", "/api/v1/jobs/{id}", s, &b);
    orch.stop().await;
}

/// The coding-pipelines answers the upstream clients read (queues, actions that answer
/// their record, onboarding, a run's spec and CI summary, policy findings) against
/// their documented schemas.
#[tokio::test]
async fn pipelines_answers_match_the_documented_schemas() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let doc = document(&orch).await;
    let api = baton_tests::pipelines::Api::new(&orch);
    let project = api.project("doc").await;
    let run = api.run(project, "0001-doc", "planning").await;
    let step = api.step(run, 0, "running").await;
    api.step(run, 1, "pending").await; // keeps the run open after the approval
    let answers = [
        (
            "post",
            "/steps/{id}/actions/{action}",
            format!("/steps/{step}/actions/approve"),
        ),
        (
            "post",
            "/protocols/{id}/actions/{action}",
            format!("/protocols/{run}/actions/pause"),
        ),
        ("get", "/queues", "/queues".to_string()),
        ("get", "/queues/jobs", "/queues/jobs".to_string()),
        (
            "get",
            "/projects/{id}/onboarding",
            format!("/projects/{project}/onboarding"),
        ),
        (
            "get",
            "/protocols/{id}/spec",
            format!("/protocols/{run}/spec"),
        ),
        (
            "get",
            "/protocols/{id}/ci/summary",
            format!("/protocols/{run}/ci/summary"),
        ),
        (
            "get",
            "/projects/{id}/policy/findings",
            format!("/projects/{project}/policy/findings"),
        ),
    ];
    for (method, template, path) in answers {
        let a = match method {
            "post" => api.call(reqwest::Method::POST, &path, None).await,
            _ => api.get(&path).await,
        };
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        check_answer(&doc, method, template, a.status, &a.body);
    }
    orch.stop().await;
}

/// The coding pipelines' runs as answered, including one without a result yet: a
/// project's onboarding job, queued with no worker to take it.
#[tokio::test]
async fn live_pipeline_runs_match_the_documented_schemas() {
    init_tracing();
    let orch = Orchestrator::memory(test_config()).await;
    let doc = document(&orch).await;
    let client = Client::new(&orch.base_url);
    let (s, project) = client
        .post(
            "/projects",
            json!({"name": "doc", "git_url": "/tmp/no-such-repo"}),
        )
        .await;
    check_answer(&doc, "post", "/projects", s, &project);
    let (s, runs) = client.get("/codex/runs").await;
    let queued = runs.as_array().and_then(|r| r.first()).cloned();
    let queued = queued.unwrap_or_else(|| panic!("the onboarding run: {runs}"));
    assert_eq!(
        (queued["status"].as_str(), queued["job_type"].as_str()),
        (Some("queued"), Some("project_setup_job")),
        "{queued}"
    );
    check_answer(&doc, "get", "/codex/runs", s, &runs);
    let run_id = queued["run_id"].as_str().expect("run id");
    let (s, one) = client.get(&format!("/codex/runs/{run_id}")).await;
    check_answer(&doc, "get", "/codex/runs/{run_id}", s, &one);
    orch.stop().await;
}

/// The workflow face's answers, errors included (its envelope), against the document.
#[tokio::test]
async fn workflow_answers_match_the_documented_schemas() {
    init_tracing();
    let mut cfg = test_config();
    cfg.workflows.allow_demo_auth = true;
    cfg.workflows.workflows_dir =
        Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../blueprints/workflows"));
    // No worker runs here: a delivery answers `running` after this.
    cfg.workflows.hook_wait = Duration::from_millis(100);
    let orch = Orchestrator::memory(cfg).await;
    let doc = document(&orch).await;
    let http = reqwest::Client::new();
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = http.request(method, format!("{}{path}", orch.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.expect("request sent");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("JSON answer"))
        }
    };
    let (s, b) = call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"user_id": "a", "password": "no"})),
    )
    .await;
    check_answer(&doc, "post", "/v1/auth/login", s, &b);
    let (s, b) = call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"user_id": "a", "password": "demo"})),
    )
    .await;
    check_answer(&doc, "post", "/v1/auth/login", s, &b);
    let token = b["access_token"].as_str().expect("token").to_string();
    let t = Some(token.as_str());
    let wf = json!({"id": "w", "name": "W", "steps": [
        {"id": "s", "type": "transform", "params": {"merge": {"a": 1}}, "outputs": ["a"]}]});
    for (method, path, template, body) in [
        ("GET", "/", "/", None),
        ("GET", "/health/live", "/health/live", None),
        ("GET", "/health/ready", "/health/ready", None),
        ("GET", "/health/db", "/health/db", None),
        ("GET", "/health/full", "/health/full", None),
        ("POST", "/v1/workflows", "/v1/workflows", Some(wf.clone())),
        ("POST", "/v1/workflows", "/v1/workflows", Some(wf.clone())),
        (
            "POST",
            "/v1/workflows",
            "/v1/workflows",
            Some(json!({"id": "x", "name": "X", "steps": []})),
        ),
        ("GET", "/v1/workflows", "/v1/workflows", None),
        (
            "GET",
            "/v1/workflows/w",
            "/v1/workflows/{workflow_id}",
            None,
        ),
        (
            "PUT",
            "/v1/workflows/w",
            "/v1/workflows/{workflow_id}",
            Some(wf),
        ),
        ("GET", "/v1/yaml-workflows", "/v1/yaml-workflows", None),
        (
            "GET",
            "/v1/yaml-workflows/release-check",
            "/v1/yaml-workflows/{workflow_id}",
            None,
        ),
        (
            "GET",
            "/v1/yaml-workflows/nope",
            "/v1/yaml-workflows/{workflow_id}",
            None,
        ),
        (
            "DELETE",
            "/v1/workflows/w",
            "/v1/workflows/{workflow_id}",
            None,
        ),
        (
            "DELETE",
            "/v1/workflows/w",
            "/v1/workflows/{workflow_id}",
            None,
        ),
        (
            "POST",
            "/v1/prompts",
            "/v1/prompts",
            Some(json!({"id": "p", "name": "P", "template": "{{x}}"})),
        ),
        (
            "POST",
            "/v1/prompts",
            "/v1/prompts",
            Some(json!({"id": "p", "name": "P", "template": "{{x}}"})),
        ),
        ("GET", "/v1/prompts", "/v1/prompts", None),
        ("GET", "/v1/prompts/p", "/v1/prompts/{template_id}", None),
        ("DELETE", "/v1/prompts/p", "/v1/prompts/{template_id}", None),
        ("GET", "/v1/prompts/p", "/v1/prompts/{template_id}", None),
    ] {
        let (s, b) = call(method, path, t, body).await;
        check_answer(&doc, &method.to_lowercase(), template, s, &b);
    }
    // An execution with no worker to run it: started, listed, logged, cancelled.
    let (s, b) = call("POST", "/v1/yaml-workflows/release-check", t, None).await;
    assert_eq!(s, 405, "{b}");
    let (s, b) = call("POST", "/v1/workflows/release-check/execute", t, None).await;
    check_answer(&doc, "post", "/v1/workflows/{workflow_id}/execute", s, &b);
    let id = b["execution_id"]
        .as_str()
        .expect("execution id")
        .to_string();
    for (method, path, template) in [
        (
            "GET",
            format!("/v1/executions/{id}"),
            "/v1/executions/{execution_id}",
        ),
        ("GET", "/v1/executions".to_string(), "/v1/executions"),
        (
            "GET",
            format!("/v1/executions/{id}/logs"),
            "/v1/executions/{execution_id}/logs",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/pause"),
            "/v1/executions/{execution_id}/pause",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/pause"),
            "/v1/executions/{execution_id}/pause",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/resume"),
            "/v1/executions/{execution_id}/resume",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/cancel"),
            "/v1/executions/{execution_id}/cancel",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/resume"),
            "/v1/executions/{execution_id}/resume",
        ),
        (
            "POST",
            format!("/v1/executions/{id}/cancel"),
            "/v1/executions/{execution_id}/cancel",
        ),
        (
            "GET",
            "/v1/executions/nope".to_string(),
            "/v1/executions/{execution_id}",
        ),
        (
            "POST",
            "/v1/workflows/execute".to_string(),
            "/v1/workflows/execute",
        ),
        ("GET", "/v1/jobs".to_string(), "/v1/jobs"),
        ("GET", "/v1/jobs/stats".to_string(), "/v1/jobs/stats"),
        ("GET", format!("/v1/jobs/{id}"), "/v1/jobs/{job_id}"),
        (
            "POST",
            format!("/v1/jobs/{id}/cancel"),
            "/v1/jobs/{job_id}/cancel",
        ),
        (
            "DELETE",
            format!("/v1/executions/{id}"),
            "/v1/executions/{execution_id}",
        ),
        ("DELETE", format!("/v1/jobs/{id}"), "/v1/jobs/{job_id}"),
        ("POST", "/v1/jobs/cleanup".to_string(), "/v1/jobs/cleanup"),
        (
            "POST",
            "/v1/executions/cleanup".to_string(),
            "/v1/executions/cleanup",
        ),
        ("POST", "/v1/jobs".to_string(), "/v1/jobs"),
    ] {
        let (s, b) = call(method, &path, t, Some(json!({"workflow_id": "nope"}))).await;
        check_answer(&doc, &method.to_lowercase(), template, s, &b);
    }
    // Versions.
    let content = "name: G\nsteps:\n  - {id: s, type: transform, params: {merge: {}}}\n";
    for (method, path, template, body) in [
        (
            "POST",
            "/v1/workflows/g/versions",
            "/v1/workflows/{workflow_name}/versions",
            Some(json!({"version": "1.0.0", "content": content})),
        ),
        (
            "POST",
            "/v1/workflows/g/versions",
            "/v1/workflows/{workflow_name}/versions",
            Some(
                json!({"version": "1.1.0", "content": format!("{content}# two\n"), "activate": true}),
            ),
        ),
        (
            "POST",
            "/v1/workflows/g/versions",
            "/v1/workflows/{workflow_name}/versions",
            Some(json!({"version": "bad", "content": content})),
        ),
        (
            "GET",
            "/v1/workflows/g/versions",
            "/v1/workflows/{workflow_name}/versions",
            None,
        ),
        (
            "GET",
            "/v1/workflows/g/versions/1.0.0",
            "/v1/workflows/{workflow_name}/versions/{version}",
            None,
        ),
        (
            "GET",
            "/v1/workflows/g/versions/compare?from_version=1.0.0&to_version=1.1.0",
            "/v1/workflows/{workflow_name}/versions/compare",
            None,
        ),
        (
            "POST",
            "/v1/workflows/g/rollback",
            "/v1/workflows/{workflow_name}/rollback",
            None,
        ),
        (
            "POST",
            "/v1/workflows/g/versions/1.1.0/activate",
            "/v1/workflows/{workflow_name}/versions/{version}/activate",
            None,
        ),
        (
            "DELETE",
            "/v1/workflows/g/versions/1.1.0",
            "/v1/workflows/{workflow_name}/versions/{version}",
            None,
        ),
        (
            "DELETE",
            "/v1/workflows/g/versions/1.0.0",
            "/v1/workflows/{workflow_name}/versions/{version}",
            None,
        ),
        (
            "GET",
            "/v1/workflow-versions",
            "/v1/workflow-versions",
            None,
        ),
    ] {
        let (s, b) = call(method, path, t, body).await;
        check_answer(&doc, &method.to_lowercase(), template, s, &b);
    }
    // Schedules and webhooks (of the versioned workflow `g`).
    let schedule = json!({"id": "s1", "workflow_id": "g", "name": "S", "schedule_type": "interval",
        "interval_config": {"hours": 1}});
    let hook = json!({"id": "h1", "name": "H", "workflow_id": "g",
        "payload_mappings": [{"source_path": "a.b", "target_variable": "x", "default": 1}]});
    for (method, path, template, body) in [
        (
            "POST",
            "/v1/schedules",
            "/v1/schedules",
            Some(schedule.clone()),
        ),
        (
            "POST",
            "/v1/schedules",
            "/v1/schedules",
            Some(schedule.clone()),
        ),
        (
            "POST",
            "/v1/schedules",
            "/v1/schedules",
            Some(json!({"id": "s2"})),
        ),
        ("GET", "/v1/schedules", "/v1/schedules", None),
        (
            "GET",
            "/v1/schedules/s1",
            "/v1/schedules/{schedule_id}",
            None,
        ),
        (
            "PUT",
            "/v1/schedules/s1",
            "/v1/schedules/{schedule_id}",
            Some(schedule),
        ),
        (
            "POST",
            "/v1/schedules/s1/pause",
            "/v1/schedules/{schedule_id}/pause",
            None,
        ),
        (
            "POST",
            "/v1/schedules/s1/resume",
            "/v1/schedules/{schedule_id}/resume",
            None,
        ),
        (
            "POST",
            "/v1/schedules/s1/trigger",
            "/v1/schedules/{schedule_id}/trigger",
            None,
        ),
        (
            "GET",
            "/v1/schedules/s1/history",
            "/v1/schedules/{schedule_id}/history",
            None,
        ),
        (
            "GET",
            "/v1/schedules/s1/history?limit=x",
            "/v1/schedules/{schedule_id}/history",
            None,
        ),
        (
            "DELETE",
            "/v1/schedules/s1",
            "/v1/schedules/{schedule_id}",
            None,
        ),
        (
            "GET",
            "/v1/schedules/s1",
            "/v1/schedules/{schedule_id}",
            None,
        ),
        ("POST", "/v1/webhooks", "/v1/webhooks", Some(hook.clone())),
        ("POST", "/v1/webhooks", "/v1/webhooks", Some(hook.clone())),
        ("GET", "/v1/webhooks", "/v1/webhooks", None),
        ("GET", "/v1/webhooks/h1", "/v1/webhooks/{webhook_id}", None),
        (
            "PUT",
            "/v1/webhooks/h1",
            "/v1/webhooks/{webhook_id}",
            Some(hook),
        ),
        (
            "GET",
            "/v1/webhooks/h1/history",
            "/v1/webhooks/{webhook_id}/history",
            None,
        ),
    ] {
        let (s, b) = call(method, path, t, body).await;
        check_answer(&doc, &method.to_lowercase(), template, s, &b);
    }
    let (s, b) = call("POST", "/v1/webhooks/h1/regenerate-secret", t, None).await;
    check_answer(
        &doc,
        "post",
        "/v1/webhooks/{webhook_id}/regenerate-secret",
        s,
        &b,
    );
    let secret = b["secret"].as_str().expect("a secret").to_string();
    let deliver = |id: &str, signature: Option<String>| {
        let mut req = http
            .post(format!("{}/hooks/{id}", orch.base_url))
            .body(r#"{"a": {"b": 2}}"#);
        if let Some(sig) = signature {
            req = req.header("X-Webhook-Signature", sig);
        }
        async move {
            let resp = req.send().await.expect("request sent");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("JSON answer"))
        }
    };
    let sig = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(br#"{"a": {"b": 2}}"#);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    for (id, signature, status) in [
        ("h1", Some(sig), 202),
        ("h1", None, 401),
        ("nope", None, 404),
    ] {
        let (s, b) = deliver(id, signature).await;
        assert_eq!(s, status, "{b}");
        check_answer(&doc, "post", "/hooks/{webhook_id}", s, &b);
    }
    let (s, b) = call("DELETE", "/v1/webhooks/h1", t, None).await;
    check_answer(&doc, "delete", "/v1/webhooks/{webhook_id}", s, &b);
    let (s, b) = call("GET", "/v1/workflows", None, None).await;
    assert_eq!(s, 401);
    check_answer(&doc, "get", "/v1/workflows", s, &b);
    orch.stop().await;
}
