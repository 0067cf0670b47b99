//! The parts of the onboarding summary read back from the setup run's events, beside
//! its status: when each stage was set and by which event, and a `hint` saying what to
//! do next (the upstream CLI prints both: `At` per stage, `Hint:`).
//!
//! The data: the setup run's recent events, newest first. Only the latest attempt counts
//! ([`latest_attempt`]). A stage's event is the newest of that attempt among the ones that speak of
//! it ([`STAGE_EVENTS`]), else the attempt's final `setup_*` event (which carries every
//! stage in its metadata).

use super::onboarding_schemas::StageView;
use super::queues::queue_status;
use super::schemas::EventView;
use super::views;
use crate::onboarding::{Stage, StageStatus, FINAL_EVENTS};
use crate::{Event, ProtocolStatus};
use baton_protocol::clock::rfc3339;

/// The events that speak of a stage before the final one.
const STAGE_EVENTS: [(&str, &[&str]); 3] = [
    ("resolve", &["setup_cloned", "setup_started"]),
    (
        "discovery",
        &[
            "setup_discovery_completed",
            "setup_discovery_warning",
            "setup_discovery_skipped",
            "setup_discovery_started",
        ],
    ),
    ("clarifications", &["setup_clarifications"]),
];

/// The latest attempt's events (newest first): up to the newest `setup_started` (an
/// inline setup, or a job's setup as applied) or `setup_enqueued` (a job not applied
/// yet: then no stage has an event).
fn latest_attempt(events: &[Event]) -> &[Event] {
    let begins = |e: &Event| matches!(e.event_type.as_str(), "setup_started" | "setup_enqueued");
    match events.iter().position(begins) {
        Some(i) => &events[..=i],
        None => events,
    }
}

/// The stages with `key` (the stage's name, which is upstream's key too), `event_type`
/// and `created_at` of the event that set them (both null for a stage no event has set
/// yet).
pub fn stages(stages: Vec<Stage>, events: &[Event], status: ProtocolStatus) -> Vec<StageView> {
    let attempt = latest_attempt(events);
    let finished = !matches!(status, ProtocolStatus::Pending | ProtocolStatus::Running);
    let final_event = attempt
        .iter()
        .find(|e| FINAL_EVENTS.contains(&e.event_type.as_str()))
        .filter(|_| finished);
    stages
        .into_iter()
        .map(|stage| {
            let own = STAGE_EVENTS
                .iter()
                .find(|(n, _)| *n == stage.name)
                .and_then(|(_, kinds)| {
                    attempt
                        .iter()
                        .find(|e| kinds.contains(&e.event_type.as_str()))
                });
            let by = match stage.status {
                StageStatus::Pending => None,
                _ => own.or(final_event),
            };
            StageView {
                key: stage.name.clone(),
                name: stage.name,
                status: stage.status,
                message: stage.message,
                event_type: by.map(|e| e.event_type.clone()),
                created_at: by.map(|e| rfc3339(e.created_at)),
            }
        })
        .collect()
}

/// The newest event, as listed.
pub fn last_event(events: &[Event]) -> Option<EventView> {
    events.first().map(|e| views::event(e, None))
}

/// What to do next, when there is something to do: `job_status` is the Baton status of
/// the latest setup job (if any), `stages` the summary's.
pub fn hint(
    project_id: u64,
    status: Option<ProtocolStatus>,
    job_status: Option<&str>,
    stages: &[StageView],
) -> Option<String> {
    let start = format!("POST /projects/{project_id}/onboarding/actions/start");
    let Some(status) = status else {
        return Some(format!(
            "Onboarding has not started yet: start it with `{start}`."
        ));
    };
    let stage = |name: &str| stages.iter().find(|s| s.name == name);
    match status {
        ProtocolStatus::Pending if job_status.is_some_and(|s| queue_status(s) == "queued") => {
            Some(format!(
                "Setup job is queued but not running: start a pipeline worker \
                 (`pipeline-worker`), or run the setup in the orchestrator with `{start}` \
                 and `{{\"inline\": true}}`."
            ))
        }
        ProtocolStatus::Blocked => Some(format!(
            "Setup is blocked by open clarifications: answer them \
             (`GET /projects/{project_id}/clarifications?status=open`), then `{start}` again."
        )),
        ProtocolStatus::Failed => Some(format!(
            "Setup failed (see the stages' messages); fix the cause and `{start}` again."
        )),
        _ => match stage("discovery") {
            Some(d) if d.status == StageStatus::Skipped => Some(format!(
                "Discovery was skipped ({}): run the setup as a job on a pipeline worker \
                 with an engine (`{start}` without `inline`) to get discovery notes.",
                d.message.as_deref().unwrap_or("no reason given")
            )),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(stages: Value) -> Vec<Stage> {
        serde_json::from_value(stages).unwrap()
    }

    fn view(stages: Value) -> Vec<StageView> {
        super::stages(parse(stages), &[], ProtocolStatus::Completed)
    }

    fn ev(id: u64, kind: &str) -> Event {
        Event {
            id,
            protocol_run_id: 1,
            project_id: 1,
            step_run_id: None,
            event_type: kind.into(),
            message: kind.into(),
            metadata: None,
            created_at: id as i64 * 1000,
        }
    }

    #[test]
    fn stages_are_stamped_by_their_events_of_the_latest_attempt() {
        // Newest first: a second attempt that did not clone (the first one did).
        let events = [
            ev(9, "setup_completed"),
            ev(8, "setup_discovery_skipped"),
            ev(7, "setup_started"),
            ev(6, "setup_failed"),
            ev(5, "setup_cloned"),
            ev(4, "setup_started"),
        ];
        let stages = json!([
            {"name": "resolve", "status": "completed"},
            {"name": "discovery", "status": "skipped"},
            {"name": "git", "status": "completed"},
        ]);
        let out = super::stages(parse(stages), &events, ProtocolStatus::Completed);
        let at = |i: usize| (out[i].event_type.as_deref(), out[i].key.as_str());
        assert_eq!(at(0), (Some("setup_started"), "resolve"));
        assert_eq!(at(1).0, Some("setup_discovery_skipped"));
        assert_eq!(at(2).0, Some("setup_completed"));
        assert_eq!(out[2].created_at, Some(rfc3339(9000)));
        let pending = super::stages(
            parse(json!([{"name": "resolve", "status": "pending"}])),
            &[],
            ProtocolStatus::Pending,
        );
        assert_eq!(pending[0].created_at, None);
    }

    #[test]
    fn hints_say_what_to_do_next() {
        let none: Vec<StageView> = Vec::new();
        assert!(hint(3, None, None, &none).is_some_and(|h| h.contains("not started")));
        let queued = hint(3, Some(ProtocolStatus::Pending), Some("pending"), &none);
        assert!(queued.is_some_and(|h| h.starts_with("Setup job is queued but not running")));
        assert_eq!(
            hint(3, Some(ProtocolStatus::Pending), Some("running"), &none),
            None
        );
        assert!(hint(3, Some(ProtocolStatus::Blocked), None, &none)
            .is_some_and(|h| h.contains("/projects/3/clarifications")));
        let skipped =
            view(json!([{"name": "discovery", "status": "skipped", "message": "no engine"}]));
        assert!(hint(3, Some(ProtocolStatus::Completed), None, &skipped)
            .is_some_and(|h| h.contains("no engine")));
        assert_eq!(hint(3, Some(ProtocolStatus::Completed), None, &none), None);
    }
}
