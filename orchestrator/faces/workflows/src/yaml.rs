//! YAML workflows: one file per workflow in the workflows directory, loaded at start and
//! served by `/v1/yaml-workflows`. Each orchestrator loads its own copy of the directory
//! (as it does blueprints), so every orchestrator of a deployment needs the same files.
//!
//! A file holds the fields of [`Workflow`]; `id` defaults to the file name without its
//! extension. A file that does not parse or validate fails the start, naming the file and
//! the field: a workflow silently missing would fail later, at execute time.

use crate::model::Workflow;
use crate::validate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded YAML workflow and the file it came from.
#[derive(Debug, Clone)]
pub struct YamlWorkflow {
    pub workflow: Workflow,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("workflow file {file}: {message}")]
pub struct LoadError {
    pub file: String,
    pub message: String,
}

fn error(file: &Path, message: impl Into<String>) -> LoadError {
    LoadError {
        file: file.display().to_string(),
        message: message.into(),
    }
}

/// Every `*.yaml`/`*.yml` of `dir` by id; an absent directory holds none.
pub fn load_dir(dir: &Path) -> Result<BTreeMap<String, YamlWorkflow>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(error(dir, format!("cannot read the directory: {e}"))),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    let mut out = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| error(&path, format!("cannot read: {e}")))?;
        let wf = load_str(&path, &text)?;
        if let Some(other) = out.get(&wf.id) {
            let other: &YamlWorkflow = other;
            return Err(error(
                &path,
                format!(
                    "workflow id `{}` is also used by {}",
                    wf.id,
                    other.path.display()
                ),
            ));
        }
        out.insert(wf.id.clone(), YamlWorkflow { workflow: wf, path });
    }
    Ok(out)
}

/// Parses and validates one file's text.
pub fn load_str(path: &Path, text: &str) -> Result<Workflow, LoadError> {
    let mut doc = baton_blueprint::yaml_to_json(text).map_err(|e| error(path, e))?;
    if let Some(map) = doc.as_object_mut() {
        if !map.contains_key("id") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            map.insert("id".into(), stem.into());
        }
    }
    from_doc(path, doc)
}

/// A definition already read into JSON (`path` names it in errors), validated.
pub fn from_doc(path: &Path, doc: serde_json::Value) -> Result<Workflow, LoadError> {
    let wf: Workflow =
        serde_json::from_value(doc).map_err(|e| error(path, format!("invalid workflow: {e}")))?;
    let problems = validate::workflow(&wf);
    if let Some(p) = problems.first() {
        return Err(error(path, format!("{}: {}", p.field, p.message)));
    }
    Ok(wf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_load_with_their_name_as_id_and_bad_ones_fail_naming_the_field() {
        let dir = std::env::temp_dir().join(format!("baton-wf-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("summarise.yaml"),
            "name: Summarise\ninputs:\n  text: {type: string, required: true}\nsteps:\n  - id: s\n    type: ai-prompt\n    params: {prompt: 'Summarise ${text}'}\n    outputs: [summary]\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "not a workflow").unwrap();
        let loaded = load_dir(&dir).unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["summarise"]);
        assert_eq!(loaded["summarise"].workflow.name, "Summarise");
        std::fs::write(
            dir.join("broken.yml"),
            "name: B\nsteps:\n  - {id: a, type: shell, params: {command: x}, depends_on: [ghost]}\n",
        )
        .unwrap();
        let e = load_dir(&dir).unwrap_err();
        assert!(e.file.ends_with("broken.yml"), "{e}");
        assert!(e.message.contains("steps[0].depends_on"), "{e}");
        assert!(load_dir(&dir.join("absent")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }
}
