//! The document of every face against the served routes (each face's `ROUTES`) and its own
//! consistency: every route documented with its method, nothing documented that is not
//! served, security and error answers where they belong, every `$ref` resolvable.

use crate::runtime::openapi::{document, SpecCache};
use crate::{config::Config, runtime};
use baton_blueprint::Registry;
use utoipa::openapi::OpenApi as Document;

/// Every route of every face.
fn all_routes() -> Vec<(&'static str, &'static str)> {
    runtime::ROUTES
        .iter()
        .chain(crate::pipelines::ROUTES)
        .chain(crate::workflows::ROUTES)
        .chain(baton_ui::ROUTES)
        .copied()
        .collect()
}
use serde_json::Value;

/// `/a/{id}/b` → `/a/{}/b`: parameter names may differ between the two lists.
fn normalise(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every face's document, merged as the server serves it.
fn faces_doc() -> Document {
    let cfg = Config::default();
    let stores = crate::Stores::memory(cfg.history_limit);
    let server = crate::build(cfg, stores, Registry::default()).expect("server builds");
    server.faces.openapi()
}

/// The document of all faces, without the per-blueprint paths.
fn static_doc() -> Value {
    serde_json::to_value(faces_doc()).expect("document encodes")
}

/// `(METHOD, normalised path, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
            ) {
                out.push((method.to_uppercase(), normalise(path), op.clone()));
            }
        }
    }
    out
}

#[test]
fn every_route_is_documented_with_its_method() {
    let ops = operations(&static_doc());
    for (method, template) in all_routes() {
        let want = normalise(template);
        assert!(
            ops.iter().any(|(m, p, _)| m == method && *p == want),
            "{method} {template} is served but not in the OpenAPI document: annotate its \
             handler with #[utoipa::path] and list it in ApiDoc"
        );
    }
}

#[test]
fn every_documented_operation_is_a_served_route() {
    for (method, path, _) in operations(&static_doc()) {
        assert!(
            all_routes()
                .into_iter()
                .any(|(m, t)| m == method && normalise(t) == path),
            "{method} {path} is documented but not in ROUTES"
        );
    }
}

fn security_names(op: &Value) -> Vec<String> {
    op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|req| req.keys().cloned())
        .collect()
}

#[test]
fn operations_declare_their_token_and_error_answers() {
    for (method, path, op) in operations(&static_doc()) {
        let what = format!("{method} {path}");
        let responses = op["responses"].as_object().expect("responses");
        // The one `/_public` route behind a token lists a client's own jobs.
        let (scheme, refusal) = if path == "/api/v1/stream" {
            (Some("client_token_query"), Some("401"))
        } else if path.starts_with("/api/") || path == "/_public/jobs/quarantined" {
            (Some("client_token"), Some("401"))
        } else if path.starts_with("/_worker/") {
            (Some("worker_token"), Some("403"))
        } else if [
            "/projects",
            "/protocols/",
            "/steps/",
            "/events",
            "/codex/",
            "/queues",
        ]
        .iter()
        .any(|p| path.starts_with(p))
        {
            (Some("api_token"), Some("401"))
        } else if path.starts_with("/v1/") && path != "/v1/auth/login" {
            (Some("bearer_token"), Some("401"))
        } else {
            (None, None)
        };
        // The workflow face answers its envelope; its probes answer their own body.
        let workflow_face = path == "/"
            || path.starts_with("/v1/")
            || path.starts_with("/health/")
            || path == "/ws/executions"
            || path.starts_with("/hooks/");
        assert_eq!(
            security_names(&op),
            scheme.map(str::to_string).into_iter().collect::<Vec<_>>(),
            "{what}: security"
        );
        if let Some(status) = refusal {
            assert!(responses.contains_key(status), "{what}: no {status} answer");
        }
        assert!(
            responses
                .keys()
                .any(|s| s.starts_with('2') || s == "101" || s == "303"),
            "{what}: no success answer"
        );
        for (status, resp) in responses {
            let probe = ["/health/ready", "/health/db"].contains(&path.as_str()) && status == "503";
            // The dashboard's files: a missing one is a plain-text 404, as for any file.
            let file = path.starts_with("/ui/");
            if (status.starts_with('4') || status.starts_with('5')) && !probe && !file {
                let shape = if workflow_face {
                    "ErrorEnvelope"
                } else {
                    "ErrorBody"
                };
                assert_eq!(
                    resp["content"]["application/json"]["schema"]["$ref"],
                    format!("#/components/schemas/{shape}"),
                    "{what}: {status} must use the error shape"
                );
            }
            assert!(
                resp["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{what}: {status} needs a description"
            );
        }
        assert!(op["operationId"].is_string(), "{what}: operationId");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn echo_registry() -> Registry {
    let echo = baton_blueprint::load_str(
        "echo.yaml",
        "name: echo\nversion: v1\nendpoint: /jobs/echo\ndescription: Echoes.\nstates:\n  echo:\n    type: dispatch\n    start: true\n    task: echo\n    transitions: {success: done}\n  done:\n    type: end\n    status: finished\n",
    )
    .expect("blueprint");
    Registry::new(vec![echo]).expect("registry")
}

#[test]
fn every_reference_resolves() {
    let doc = serde_json::to_value(document(Some(faces_doc()), &echo_registry())).expect("encodes");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is referenced but not defined"
        );
    }
}

#[test]
fn each_blueprint_gets_its_creation_path() {
    let doc = serde_json::to_value(document(Some(faces_doc()), &echo_registry())).expect("encodes");
    let op = &doc["paths"]["/api/v1/jobs/echo"]["post"];
    assert_eq!(op["operationId"], "create_echo_job", "{op}");
    assert!(op.get("parameters").is_none(), "no path parameters: {op}");
    assert!(
        op["description"]
            .as_str()
            .is_some_and(|d| d.contains("Echoes.")),
        "{op}"
    );
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateJobRequest"
    );
    assert!(op["responses"]["202"].is_object());
    assert!(op["responses"].get("404").is_none());
    assert_eq!(security_names(op), ["client_token"]);
    // The generic entry stays.
    assert!(doc["paths"][runtime::CREATE_JOB_ROUTE]["post"].is_object());
}

#[test]
fn the_document_is_openapi_3_with_both_token_schemes() {
    let doc = static_doc();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(doc["info"]["title"], "Baton");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["client_token"]["name"], "X-Client-Token");
    assert_eq!(schemes["client_token"]["in"], "header");
    assert_eq!(schemes["worker_token"]["name"], "X-Worker-Token");
    assert!(doc["components"]["schemas"]["WorkerCommand"].is_object());
}

#[test]
fn the_cache_keeps_the_first_build() {
    let cache = SpecCache::default();
    let registry = echo_registry();
    let first = cache.json(&registry).expect("builds");
    let second = cache.json(&Registry::default()).expect("cached");
    assert_eq!(first.as_ptr(), second.as_ptr());
    let doc: Value = serde_json::from_slice(&first).expect("JSON");
    assert!(doc["paths"]["/api/v1/jobs/echo"].is_object());
}
