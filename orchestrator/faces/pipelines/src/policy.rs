//! Policy packs: what a project's `project_classification` (a user-friendly "project
//! type" of the coding-pipelines API) selects.
//!
//! A [`PolicyPack`] is static data: its `name` (the classification), the [`QaPolicy`]
//! of the project's steps, the `default_models` it proposes per phase, and the
//! onboarding questions ([`PackQuestion`]) it asks as project clarifications. Packs
//! are not stored: a project keeps its classification and the pack is looked up when
//! needed ([`PolicyPack::of`]), so a pack's QA policy changes with the code, not with
//! a migration. Only `default_models` is copied into the project at creation (the
//! user can then change it), and explicit fields of the request win over the pack's
//! ([`PolicyPack::models_over`]).
//!
//! | pack | QA | models | asks |
//! |---|---|---|---|
//! | `default` | full | – | – |
//! | `beginner-guided` | full | planning `gpt-5` | `project_goal` (planning, non-blocking) |
//! | `startup-fast` | skip | exec `gpt-5-codex-mini` | – |
//! | `team-standard` | light | – | `code_owners` (execution, non-blocking) |
//! | `enterprise-compliance` | full | qa `gpt-5` | `data_classification` (onboarding, blocking; the key upstream's pack and tests use), `compliance_reviewer` (execution, blocking) |

use super::model::{AppliesTo, DefaultModels, NewClarification, Project};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a step's work is reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QaPolicy {
    /// A `run_quality` job reviews each executed step (the step waits in `needs_qa`).
    Full,
    /// The worker that executed the step reviews it right away, in the same job (exec
    /// outcome `qa: {verdict, report}`), instead of a separate `run_quality` job.
    Light,
    /// No review: an executed step is completed directly (exec outcome `skip_qa`).
    Skip,
}

impl QaPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            QaPolicy::Full => "full",
            QaPolicy::Light => "light",
            QaPolicy::Skip => "skip",
        }
    }
}

/// A question a pack asks at onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackQuestion {
    pub key: &'static str,
    pub question: &'static str,
    pub applies_to: AppliesTo,
    pub blocking: bool,
    /// The answers offered (none: free text) and the one recommended.
    pub options: &'static [&'static str],
    pub recommended: Option<&'static str>,
}

impl PackQuestion {
    pub fn to_new(self) -> NewClarification {
        NewClarification {
            key: self.key.into(),
            question: self.question.into(),
            recommended: self.recommended.map(Value::from),
            options: (!self.options.is_empty()).then(|| Value::from(self.options.to_vec())),
            applies_to: self.applies_to,
            blocking: self.blocking,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyPack {
    pub name: &'static str,
    pub qa_policy: QaPolicy,
    /// Models per phase as `(planning, exec, qa)`; `None` leaves the worker's default.
    pub models: (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    ),
    pub questions: &'static [PackQuestion],
}

pub const DEFAULT: PolicyPack = PolicyPack {
    name: "default",
    qa_policy: QaPolicy::Full,
    models: (None, None, None),
    questions: &[],
};

pub const PACKS: &[PolicyPack] = &[
    DEFAULT,
    PolicyPack {
        name: "beginner-guided",
        qa_policy: QaPolicy::Full,
        models: (Some("gpt-5"), None, None),
        questions: &[PackQuestion {
            key: "project_goal",
            question: "In a sentence or two, what should this project do? Plans are written \
                       for that goal.",
            applies_to: AppliesTo::Planning,
            blocking: false,
            options: &[],
            recommended: None,
        }],
    },
    PolicyPack {
        name: "startup-fast",
        qa_policy: QaPolicy::Skip,
        models: (None, Some("gpt-5-codex-mini"), None),
        questions: &[],
    },
    PolicyPack {
        name: "team-standard",
        qa_policy: QaPolicy::Light,
        models: (None, None, None),
        questions: &[PackQuestion {
            key: "code_owners",
            question: "Who reviews the pull requests of this project (users or teams)?",
            applies_to: AppliesTo::Execution,
            blocking: false,
            options: &[],
            recommended: None,
        }],
    },
    PolicyPack {
        name: "enterprise-compliance",
        qa_policy: QaPolicy::Full,
        models: (None, None, Some("gpt-5")),
        questions: &[
            PackQuestion {
                key: "data_classification",
                question: "What data classification applies to this project?",
                applies_to: AppliesTo::Onboarding,
                blocking: true,
                options: &["public", "internal", "confidential", "regulated"],
                recommended: Some("internal"),
            },
            PackQuestion {
                key: "compliance_reviewer",
                question: "Who signs off changes for compliance before any step is executed?",
                applies_to: AppliesTo::Execution,
                blocking: true,
                options: &[],
                recommended: None,
            },
        ],
    },
];

/// An unknown classification, with the valid ones (a 400 for the API).
#[derive(Debug, thiserror::Error)]
#[error("unknown project_classification `{given}`; valid: {}", valid_names().join(", "))]
pub struct UnknownPack {
    pub given: String,
}

pub fn valid_names() -> Vec<&'static str> {
    PACKS.iter().map(|p| p.name).collect()
}

impl PolicyPack {
    /// The pack named `name` (`None` or empty: `default`).
    pub fn named(name: Option<&str>) -> Result<PolicyPack, UnknownPack> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => Ok(DEFAULT),
            Some(n) => PACKS
                .iter()
                .find(|p| p.name == n)
                .copied()
                .ok_or_else(|| UnknownPack { given: n.into() }),
        }
    }

    /// The pack of a stored project (`default` if its classification is no longer known:
    /// records outlive code).
    pub fn of(project: &Project) -> PolicyPack {
        PolicyPack::named(project.project_classification.as_deref()).unwrap_or(DEFAULT)
    }

    /// The request's models with the pack's filling the phases it left out; `None`
    /// when neither names any.
    pub fn models_over(&self, given: Option<DefaultModels>) -> Option<DefaultModels> {
        let mut m = given.unwrap_or_default();
        let (planning, exec, qa) = self.models;
        m.planning = m.planning.or(planning.map(String::from));
        m.exec = m.exec.or(exec.map(String::from));
        m.qa = m.qa.or(qa.map(String::from));
        (m != DefaultModels::default()).then_some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_are_found_by_name_and_unknown_ones_list_the_valid() {
        assert_eq!(
            PolicyPack::named(None).map(|p| p.name).ok(),
            Some("default")
        );
        assert_eq!(
            PolicyPack::named(Some(" ")).map(|p| p.name).ok(),
            Some("default")
        );
        let fast = PolicyPack::named(Some("startup-fast")).expect("known");
        assert_eq!(fast.qa_policy, QaPolicy::Skip);
        let err = PolicyPack::named(Some("huge-corp")).expect_err("unknown");
        let text = err.to_string();
        assert!(
            text.contains("huge-corp") && text.contains("enterprise-compliance"),
            "{text}"
        );
        assert_eq!(valid_names().len(), 5);
    }

    #[test]
    fn explicit_models_win_over_the_pack() {
        let pack = PolicyPack {
            models: (Some("p"), Some("e"), None),
            ..DEFAULT
        };
        let given = DefaultModels {
            exec: Some("mine".into()),
            ..Default::default()
        };
        let m = pack.models_over(Some(given)).expect("models");
        assert_eq!(m.planning.as_deref(), Some("p"));
        assert_eq!(m.exec.as_deref(), Some("mine"));
        assert_eq!(m.qa, None);
        assert_eq!(DEFAULT.models_over(None), None);
    }
}
