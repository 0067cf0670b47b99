//! Versions of a workflow, by its name (its id): each a whole definition as text (YAML or
//! JSON), a strict `major.minor.patch` version, the SHA-256 of the text, and which one is
//! active. The active version is what the next execution of that workflow runs (before
//! its JSON record or YAML file); running executions keep theirs, and each records the
//! version it ran.
//!
//! The data: one [`VersionSet`] document per name, changed by compare-and-set
//! ([`crate::store::WorkflowStore::cas_versions`]), so concurrent saves on several
//! orchestrators cannot lose one.

use crate::error::{WfError, WfResult};
use crate::model::Workflow;
use crate::FaceRef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionSet {
    pub name: String,
    pub versions: Vec<Version>,
    pub active: Option<String>,
    pub next_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub id: u64,
    pub version: String,
    pub content: String,
    pub content_hash: String,
    pub description: Option<String>,
    pub author: Option<String>,
    pub created_ms: i64,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// `major.minor.patch`, each a number without leading zeros; else `None`.
pub fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.');
    let mut next = || {
        let p = parts.next()?;
        if p.is_empty()
            || (p.len() > 1 && p.starts_with('0'))
            || !p.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        p.parse::<u64>().ok()
    };
    let out = (next()?, next()?, next()?);
    parts.next().is_none().then_some(out)
}

pub fn content_hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// A version's content as a workflow named `name` (validated): 422 when it is not one.
pub fn parse_content(name: &str, content: &str) -> WfResult<Workflow> {
    let mut doc = baton_blueprint::yaml_to_json(content)
        .map_err(|e| WfError::validation(format!("content: {e}")).with("field", "content"))?;
    if let Some(map) = doc.as_object_mut() {
        match map.get("id") {
            None | Some(Value::Null) => {
                map.insert("id".into(), name.into());
            }
            Some(Value::String(id)) if id == name => {}
            Some(_) => {
                return Err(
                    WfError::validation(format!("content: its `id` must be `{name}`"))
                        .with("field", "content"),
                )
            }
        }
    }
    crate::yaml::from_doc(Path::new(name), doc).map_err(|e| {
        WfError::validation(format!("content: {}", e.message)).with("field", "content")
    })
}

/// The versions of `name` and the raw document they were read from.
pub async fn read(face: &FaceRef, name: &str) -> WfResult<(VersionSet, Option<String>)> {
    match face.records.get_versions(name).await? {
        Some(raw) => Ok((
            serde_json::from_str(&raw).map_err(WfError::internal)?,
            Some(raw),
        )),
        None => Ok((
            VersionSet {
                name: name.to_string(),
                next_id: 1,
                ..VersionSet::default()
            },
            None,
        )),
    }
}

/// Applies `change` to `name`'s versions by compare-and-set, retrying when another
/// writer got there first; the change's answer.
pub async fn update<T>(
    face: &FaceRef,
    name: &str,
    change: impl Fn(&mut VersionSet) -> WfResult<T>,
) -> WfResult<T> {
    for _ in 0..16 {
        let (mut set, raw) = read(face, name).await?;
        let answer = change(&mut set)?;
        let new = serde_json::to_string(&set).map_err(WfError::internal)?;
        if face
            .records
            .cas_versions(name, raw.as_deref(), &new)
            .await?
        {
            return Ok(answer);
        }
    }
    Err(WfError::conflict(format!(
        "the versions of `{name}` keep changing; try again"
    )))
}

impl VersionSet {
    pub fn get(&self, version: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// Newest (highest) first.
    pub fn sorted(&self) -> Vec<&Version> {
        let mut v: Vec<&Version> = self.versions.iter().collect();
        v.sort_by_key(|v| std::cmp::Reverse(semver(&v.version)));
        v
    }

    /// The active version's workflow, if one is active.
    pub fn active_workflow(&self) -> Option<Workflow> {
        let v = self.get(self.active.as_deref()?)?;
        let mut wf = parse_content(&self.name, &v.content).ok()?;
        wf.version = v.version.clone();
        Some(wf)
    }
}

/// A unified diff (`--- <from>` / `+++ <to>` headers, three lines of context), the
/// added and removed line counts, and the top-level keys whose values differ.
pub fn compare(from: &Version, to: &Version) -> (String, u64, u64, Vec<String>) {
    let diff = similar::TextDiff::from_lines(&from.content, &to.content);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(&from.version, &to.version)
        .to_string();
    let top = |c: &str| match baton_blueprint::yaml_to_json(c) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let (a, b) = (top(&from.content), top(&to.content));
    let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| a.get(k) != b.get(k));
    (unified, added, removed, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(v: &str, content: &str) -> Version {
        Version {
            id: 1,
            version: v.into(),
            content: content.into(),
            content_hash: content_hash(content),
            description: None,
            author: None,
            created_ms: 0,
            metadata: Map::new(),
        }
    }

    #[test]
    fn versions_are_strict_semver() {
        assert_eq!(semver("1.2.3"), Some((1, 2, 3)));
        assert_eq!(semver("10.0.0"), Some((10, 0, 0)));
        for bad in [
            "1.2",
            "1.2.3.4",
            "v1.2.3",
            "1.02.3",
            "1.2.x",
            "",
            "1..3",
            "1.2.3-rc1",
        ] {
            assert_eq!(semver(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_comparison_is_a_real_unified_diff() {
        let a = version(
            "1.0.0",
            "name: A\nsteps:\n  - {id: s, type: shell, params: {command: x}}\n",
        );
        let b = version(
            "1.1.0",
            "name: A\ndescription: more\nsteps:\n  - {id: s, type: shell, params: {command: y}}\n",
        );
        let (diff, added, removed, sections) = compare(&a, &b);
        assert!(diff.starts_with("--- 1.0.0\n+++ 1.1.0\n@@ "), "{diff}");
        assert_eq!((added, removed), (2, 1));
        assert_eq!(sections, ["description", "steps"]);
    }
}
