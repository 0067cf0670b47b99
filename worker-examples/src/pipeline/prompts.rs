//! The prompts the pipeline worker ships (`worker-examples/prompts/*.prompt.md`, compiled
//! into the binary), each with a version: the first 12 hex characters of its sha256, so a
//! run records exactly which text produced it. Placeholders are `{{ name }}`; rendering
//! refuses a prompt whose placeholder has no value rather than sending a hole to a model.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    pub name: &'static str,
    pub text: &'static str,
}

pub const PLAN: Prompt = Prompt {
    name: "plan",
    text: include_str!("../../prompts/plan.prompt.md"),
};
pub const EXECUTE: Prompt = Prompt {
    name: "execute",
    text: include_str!("../../prompts/execute.prompt.md"),
};
pub const QA: Prompt = Prompt {
    name: "qa",
    text: include_str!("../../prompts/qa.prompt.md"),
};

/// The onboarding discovery passes, in order (`discovery-<name>.prompt.md`); each
/// renders `{{ repo }}` (the checkout's path) and `{{ project }}` (its git URL).
pub const DISCOVERY: [Prompt; 4] = [
    Prompt {
        name: "discovery-inventory",
        text: include_str!("../../prompts/discovery-inventory.prompt.md"),
    },
    Prompt {
        name: "discovery-architecture",
        text: include_str!("../../prompts/discovery-architecture.prompt.md"),
    },
    Prompt {
        name: "discovery-api_reference",
        text: include_str!("../../prompts/discovery-api_reference.prompt.md"),
    },
    Prompt {
        name: "discovery-ci_notes",
        text: include_str!("../../prompts/discovery-ci_notes.prompt.md"),
    },
];

impl Prompt {
    /// `sha256(text)[..12]`, recorded on the run.
    pub fn version(&self) -> String {
        let digest = Sha256::digest(self.text.as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// The text with every `{{ name }}` replaced; an error names a missing value.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> Result<String, String> {
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            let name = rest[start + 2..start + 2 + len].trim();
            let value = values
                .get(name)
                .ok_or_else(|| format!("prompt `{}` needs `{name}`", self.name))?;
            out.push_str(&rest[..start]);
            out.push_str(value);
            rest = &rest[start + 2 + len + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_short_stable_hashes() {
        for p in [PLAN, EXECUTE, QA] {
            let v = p.version();
            assert_eq!(v.len(), 12);
            assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
            assert_eq!(v, p.version());
        }
        assert_ne!(PLAN.version(), QA.version());
    }

    #[test]
    fn discovery_passes_render_the_repo_and_project() {
        let values = BTreeMap::from([
            ("repo", "/r/app".to_string()),
            ("project", "git@h:o/app.git".to_string()),
        ]);
        let mut versions = std::collections::BTreeSet::new();
        for p in DISCOVERY {
            assert!(p.name.starts_with("discovery-"));
            let text = p.render(&values).unwrap();
            assert!(
                text.contains("/r/app") && text.contains("git@h:o/app.git"),
                "{text}"
            );
            assert!(text.contains("You are onboarding"));
            versions.insert(p.version());
        }
        assert_eq!(versions.len(), DISCOVERY.len(), "four different prompts");
    }

    #[test]
    fn rendering_fills_every_placeholder_or_says_which_is_missing() {
        let mut values = BTreeMap::new();
        values.insert("plan", "PLAN".to_string());
        values.insert("step_name", "01-a.md".to_string());
        values.insert("step", "STEP {{ not a placeholder }}".to_string());
        let text = EXECUTE.render(&values).unwrap();
        assert!(text.contains("PLAN") && text.contains("This step (01-a.md):"));
        assert!(
            text.contains("STEP {{ not a placeholder }}"),
            "values are not re-rendered"
        );
        assert!(!text.contains("{{ plan }}"));
        let err = QA.render(&values).unwrap_err();
        assert_eq!(err, "prompt `qa` needs `git_status`");
    }
}
