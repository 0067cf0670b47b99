//! The coding-pipelines face's part of the OpenAPI document: its handlers, its tag and
//! its bearer token.

use super::{
    actions, branches, codemachine, events, metrics, onboarding, projects, protocols, queues, runs,
    steps, summaries, webhooks,
};
use baton_http::openapi::OptionalBodies;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    paths(
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
    components(schemas(baton_http::ErrorBody)),
    modifiers(&Security, &OptionalBodies),
    tags(
        (name = "pipelines", description = "The coding pipelines: projects, protocol \
            runs, steps, events, clarifications (bearer token `BATON_API_TOKEN` when set; \
            `X-Project-Token` on a project with `secrets.api_token`). Every answer carries \
            `X-Request-ID`. Actions answer `{\"message\", \"job\"}` (pause, resume, cancel and step \
            approve with the record's fields beside). Job types are `plan_protocol_job`, \
            `execute_step_job`, ... Runs (one per job attempt, with logs and artifacts) under \
            `/codex/runs`; pipeline jobs under `/queues`."),
    ),
)]
pub struct PipelinesDoc;

/// The bearer token of the face.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
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
