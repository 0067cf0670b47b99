//! The OpenAPI 3.1 document of the HTTP API, served at `GET /_public/openapi.json`.
//!
//! Why generated: a hand-written spec drifts from the handlers. Each handler carries its
//! own `#[utoipa::path]` (method, path, parameters, bodies, every status it answers,
//! security), the wire types of `baton-protocol` derive their schemas (feature `openapi`)
//! and [`super::schemas`] spells out the bodies the handlers build as JSON values.
//! [`ApiDoc`] lists the handlers; the tests check it against [`super::ROUTES`], the list
//! of served routes, so a route added without documentation fails them.
//!
//! Blueprints are loaded at start, so the document is completed at run time: besides the
//! generic `POST /api/{version}/{endpoint}`, each loaded blueprint gets its own creation
//! path (e.g. `POST /api/v1/jobs/echo`), which also lets the docs page try it (a path
//! parameter cannot hold the `/` of a multi-segment endpoint). The registry does not
//! change while the process runs, so [`SpecCache`] keeps the JSON once built.

use super::pipelines::{
    actions, branches, codemachine, events, metrics, onboarding, projects, protocols, queues, runs,
    steps, summaries, webhooks,
};
use super::{
    approval, batch, blueprints, client, ops, public, registration, schemas, worker, ws,
    CREATE_JOB_ROUTE,
};
use crate::blueprint::{Blueprint, Registry};
use bytes::Bytes;
use std::sync::OnceLock;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi};

/// Every documented route (the handlers' annotations) and the schemas they name.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baton",
        description = "Baton's orchestrator API: clients create jobs through blueprint \
            endpoints and follow them (`/api`, header `X-Client-Token`), workers pull tasks \
            and report results with the RXON worker protocol (`/_worker`, header \
            `X-Worker-Token`), and `/_public` needs no token. Every response carries \
            `X-RXON-Version`. Every error is `{\"error\": \"<message>\", \"code\": \"<code>\"}`: \
            a 4xx for anything the caller can fix, 503 when the store is unavailable.",
    ),
    paths(
        public::status,
        public::metrics_text,
        public::openapi_json,
        public::docs,
        approval::decide,
        ops::quarantined,
        ops::flush_db,
        client::create_job,
        client::get_job,
        client::cancel_job,
        client::history,
        client::workers,
        client::dashboard,
        blueprints::list_blueprints,
        blueprints::get_blueprint,
        blueprints::graph,
        registration::register,
        worker::heartbeat,
        worker::next_task,
        batch::take_tasks,
        worker::result,
        batch::submit_results,
        worker::event,
        ws::route,
        projects::create_project,
        projects::list_projects,
        projects::get_project,
        projects::project_clarifications,
        projects::answer_project_clarification,
        protocols::create_protocol,
        protocols::list_protocols,
        protocols::get_protocol,
        protocols::protocol_clarifications,
        protocols::answer_protocol_clarification,
        actions::protocol_action,
        steps::create_step,
        steps::list_steps,
        steps::get_step,
        steps::step_action,
        events::protocol_events,
        events::recent_events,
        events::health,
        webhooks::github,
        webhooks::gitlab,
        codemachine::import,
        runs::list_runs,
        runs::get_run,
        runs::run_logs,
        runs::run_artifacts,
        runs::artifact_content,
        runs::protocol_runs,
        runs::step_runs,
        queues::queues,
        queues::queue_jobs,
        summaries::protocol_spec,
        summaries::ci_summary,
        summaries::policy_findings,
        metrics::metrics,
        onboarding::summary,
        onboarding::start,
        branches::list_branches,
        branches::delete_branch,
    ),
    components(schemas(baton_protocol::WorkerCommand, schemas::ErrorBody)),
    modifiers(&Security, &OptionalBodies),
    tags(
        (name = "public", description = "No token."),
        (name = "jobs", description = "Create and follow jobs (client token)."),
        (name = "blueprint jobs", description = "One creation path per loaded blueprint."),
        (name = "blueprints", description = "The loaded blueprints (client token)."),
        (name = "cluster", description = "Workers and counts (client token)."),
        (name = "worker", description = "The RXON worker protocol (worker token)."),
        (name = "pipelines", description = "Coding pipelines of seed 001: projects, protocol \
            runs, steps, events, clarifications (bearer token `BATON_API_TOKEN` when set; \
            `X-Project-Token` on a project with `secrets.api_token`). Every answer carries \
            `X-Request-ID`. Actions answer `{\"message\", \"job\"}` (pause, resume, cancel and step \
            approve with the record's fields beside). Job types are `plan_protocol_job`, \
            `execute_step_job`, ... Runs (one per job attempt, with logs and artifacts) under \
            `/codex/runs`; pipeline jobs under `/queues`."),
    ),
)]
pub struct ApiDoc;

/// The two token headers.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Client-Token",
                "A client token (`BATON_CLIENT_TOKEN` or `BATON_CLIENTS_FILE`); missing or \
                 unknown: 401. A job is visible only to the client that created it.",
            ))),
        );
        components.add_security_scheme(
            "worker_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Worker-Token",
                "The global worker token (`BATON_WORKER_TOKEN`) or the worker's own \
                 (`BATON_WORKER_TOKENS_FILE`); failures are 403. Bodies with \
                 `security.signature` must be signed with it.",
            ))),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <BATON_API_TOKEN>` on the coding-pipelines \
                         routes (none needed when it is unset); missing or wrong: 401. A \
                         project whose secrets hold `api_token` also needs `X-Project-Token` \
                         on its routes (401 otherwise).",
                    ))
                    .build(),
            ),
        );
    }
}

/// An optional body (`request_body(content = Option<T>)`) may be left out, not sent as
/// JSON `null` (which the handlers refuse): drop the `null` alternative utoipa adds.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, doc: &mut Document) {
        let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.post, &mut item.put, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let Some(body) = &mut op.request_body else {
                    continue;
                };
                for content in body.content.values_mut() {
                    if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                        let rest: Vec<&RefOr<Schema>> =
                            one_of.items.iter().filter(|s| !is_null(s)).collect();
                        if let [only] = rest.as_slice() {
                            content.schema = Some((*only).clone());
                        }
                    }
                }
            }
        }
    }
}

/// The whole document: the annotated routes plus one creation path per blueprint.
pub fn document(blueprints: &Registry) -> Document {
    let mut doc = ApiDoc::openapi();
    add_blueprint_paths(&mut doc, blueprints);
    doc
}

/// Copies the generic creation operation to each blueprint's own path.
fn add_blueprint_paths(doc: &mut Document, blueprints: &Registry) {
    let Some(generic) = doc
        .paths
        .paths
        .get(CREATE_JOB_ROUTE)
        .and_then(|item| item.post.clone())
    else {
        return;
    };
    let mut list: Vec<&Blueprint> = blueprints.all().map(|bp| bp.as_ref()).collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    for bp in list {
        let item = doc
            .paths
            .paths
            .entry(format!("/api/{}{}", bp.version, bp.endpoint))
            .or_default();
        if item.post.is_some() {
            // A static route shadows this endpoint; the generic entry still describes it.
            continue;
        }
        let mut op = generic.clone();
        op.parameters = None;
        op.operation_id = Some(format!("create_{}_job", bp.name));
        op.summary = Some(format!("Creates a job of blueprint `{}`.", bp.name));
        op.description = Some(describe(bp));
        op.tags = Some(vec!["blueprint jobs".into()]);
        op.responses.responses.retain(|status, _| status != "404");
        item.post = Some(op);
    }
}

fn describe(bp: &Blueprint) -> String {
    let mut skills: Vec<&str> = bp.skills().collect();
    skills.sort_unstable();
    skills.dedup();
    let skills: Vec<String> = skills.iter().map(|s| format!("`{s}`")).collect();
    let mut text = bp.description.clone().unwrap_or_default();
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "Blueprint `{}` (version `{}`, start state `{}`), dispatches {}. Definition: \
         `GET /api/v1/blueprints/{}`.",
        bp.name,
        bp.version,
        bp.start,
        if skills.is_empty() {
            "no task".to_string()
        } else {
            skills.join(", ")
        },
        bp.name
    ));
    text
}

/// The document as JSON, built on first use.
#[derive(Default)]
pub struct SpecCache(OnceLock<Bytes>);

impl SpecCache {
    pub fn json(&self, blueprints: &Registry) -> Result<Bytes, serde_json::Error> {
        if let Some(bytes) = self.0.get() {
            return Ok(bytes.clone());
        }
        let bytes = Bytes::from(serde_json::to_vec(&document(blueprints))?);
        Ok(self.0.get_or_init(|| bytes).clone())
    }
}

#[cfg(test)]
mod tests;
