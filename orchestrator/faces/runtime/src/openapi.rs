//! The OpenAPI 3.1 document of the HTTP API, served at `GET /_public/openapi.json`.
//!
//! Why generated: a hand-written spec drifts from the handlers. Each handler carries its
//! own `#[utoipa::path]` (method, path, parameters, bodies, every status it answers,
//! security), the wire types of `baton-protocol` derive their schemas (feature `openapi`)
//! and [`super::schemas`] holds the bodies the handlers send.
//! [`ApiDoc`] lists the handlers; the tests check it against [`super::ROUTES`], the list
//! of served routes, so a route added without documentation fails them.
//!
//! Blueprints are loaded at start, so the document is completed at run time: besides the
//! generic `POST /api/{version}/{endpoint}`, each loaded blueprint gets its own creation
//! path (e.g. `POST /api/v1/jobs/echo`), which also lets the docs page try it (a path
//! parameter cannot hold the `/` of a multi-segment endpoint). The registry does not
//! change while the process runs, so [`SpecCache`] keeps the JSON once built.

use super::{
    approval, batch, blueprints, bulk, client, control, listing, ops, public, registration,
    schemas, stream, worker, ws, CREATE_JOB_ROUTE,
};
use baton_blueprint::{Blueprint, Registry};
use baton_http::openapi::OptionalBodies;
use bytes::Bytes;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
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
        public::docs_asset,
        approval::decide,
        ops::quarantined,
        ops::flush_db,
        client::create_job,
        bulk::create_jobs,
        listing::list_jobs,
        listing::timeline,
        stream::open,
        client::get_job,
        client::cancel_job,
        control::pause_job,
        control::resume_job,
        control::retry_job,
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
            "client_token_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A client token in the query, for `EventSource`, which sends no headers.",
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
    }
}

/// The whole document: the annotated routes plus one creation path per blueprint.
///
/// `base` is the document of every face served (the server merges them), else this
/// face's own.
pub fn document(base: Option<Document>, blueprints: &Registry) -> Document {
    let mut doc = base.unwrap_or_else(ApiDoc::openapi);
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
pub struct SpecCache {
    /// Every face's document, set once by the server.
    base: OnceLock<Document>,
    json: OnceLock<Bytes>,
}

impl SpecCache {
    /// Serves `doc` (every face's routes) instead of this face's own document.
    pub fn set_base(&self, doc: Document) {
        let _ = self.base.set(doc);
    }

    pub fn json(&self, blueprints: &Registry) -> Result<Bytes, serde_json::Error> {
        if let Some(bytes) = self.json.get() {
            return Ok(bytes.clone());
        }
        let doc = document(self.base.get().cloned(), blueprints);
        let bytes = Bytes::from(serde_json::to_vec(&doc)?);
        Ok(self.json.get_or_init(|| bytes).clone())
    }
}
