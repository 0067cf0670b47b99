//! The workflow face's part of the OpenAPI document: its handlers, its tags and its
//! bearer token.

use super::schemas::ErrorEnvelope;
use super::{
    auth, control, executions, health, jobs, live, prompts, schedules, versions, webhooks,
    workflows, yaml_workflows,
};
use baton_http::openapi::OptionalBodies;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    paths(
        health::root,
        health::live,
        health::ready,
        health::db,
        health::full,
        auth::login,
        workflows::list_workflows,
        workflows::create_workflow,
        workflows::get_workflow,
        workflows::replace_workflow,
        workflows::delete_workflow,
        yaml_workflows::list,
        yaml_workflows::get,
        executions::execute_sync,
        executions::execute_async,
        executions::execute_yaml,
        executions::get_execution,
        executions::list_executions,
        executions::execution_logs,
        executions::cancel_execution,
        control::pause_execution,
        control::resume_execution,
        jobs::submit_job,
        jobs::list_jobs,
        jobs::job_stats,
        jobs::cleanup_jobs,
        jobs::get_job,
        jobs::delete_job,
        jobs::cancel_job,
        jobs::delete_execution,
        jobs::cleanup_executions,
        versions::save_version,
        versions::list_versions,
        versions::compare_versions,
        versions::get_version,
        versions::delete_version,
        versions::activate_version,
        versions::rollback,
        versions::versioned_workflows,
        prompts::list_prompts,
        prompts::create_prompt,
        prompts::get_prompt,
        prompts::delete_prompt,
        live::routes,
        schedules::list_schedules,
        schedules::create_schedule,
        schedules::get_schedule,
        schedules::replace_schedule,
        schedules::delete_schedule,
        schedules::pause_schedule,
        schedules::resume_schedule,
        schedules::trigger_schedule,
        schedules::schedule_history,
        webhooks::list_webhooks,
        webhooks::create_webhook,
        webhooks::get_webhook,
        webhooks::replace_webhook,
        webhooks::delete_webhook,
        webhooks::regenerate_secret,
        webhooks::webhook_history,
        webhooks::deliver_webhook,
    ),
    components(schemas(ErrorEnvelope)),
    modifiers(&Security, &OptionalBodies),
    tags(
        (name = "auth", description = "Workflow management: log in for a bearer token \
            (`Authorization: Bearer <token>` on every other `/v1` route). Every error of \
            these routes is `{\"error\": {\"error_code\", \"message\", \"details\", \
            \"request_id\"}}`, and every answer carries `X-Request-ID`."),
        (name = "workflows", description = "Workflow definitions: JSON (stored) and YAML \
            (loaded from the workflows directory)."),
        (name = "executions", description = "Running workflows: each execution is a job \
            of the workflow compiled into a blueprint, its steps tasks pulled by workflow \
            workers."),
        (name = "jobs", description = "Executions seen as jobs (the same records)."),
        (name = "versions", description = "Versions of a workflow: the active one is \
            what its next execution runs."),
        (name = "prompts", description = "Prompt templates, used by `ai-prompt` steps \
            through `prompt_id`."),
        (name = "schedules", description = "Executions started by time: cron patterns in \
            a time zone, or intervals; each tick fired once whatever the number of \
            orchestrators."),
        (name = "webhooks", description = "Executions started by other systems: signed \
            deliveries to `/hooks/{webhook_id}` (no bearer token), their payload mapped to \
            variables."),
        (name = "health", description = "Probes of the workflow face (no token)."),
    ),
)]
pub struct WorkflowsDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access_token` of `POST /v1/auth/login`."))
                    .build(),
            ),
        );
    }
}

pub fn document() -> Document {
    WorkflowsDoc::openapi()
}
