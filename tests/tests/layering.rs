//! The layering the crate graph must hold (docs/layout.md): no core crate depends on a
//! face, no face on another face (the shared `baton-http` is not a face), the store never
//! on the engine, and the server on the example workers only through its `dev` feature.
//! Read from the manifests, so a dependency added against the rules fails here.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `(name, optional)` of the baton crates a manifest's `[dependencies]` lists.
fn baton_dependencies(manifest: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(manifest).expect("manifest reads");
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && line.starts_with("baton-") {
            let name = line
                .split(['.', ' ', '='])
                .next()
                .unwrap_or_default()
                .to_string();
            out.push((name, line.contains("optional = true")));
        }
    }
    out
}

fn crates_under(dir: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join(dir)).expect("folder reads") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        if manifest.is_file() {
            let text = std::fs::read_to_string(&manifest).expect("manifest reads");
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .expect("package name")
                .to_string();
            out.push((name, manifest));
        }
    }
    out.sort();
    out
}

#[test]
fn the_core_knows_no_face_and_faces_know_no_other_face() {
    let core = crates_under("orchestrator/core");
    let faces = crates_under("orchestrator/faces");
    assert!(core.len() >= 4 && faces.len() >= 3, "{core:?} {faces:?}");
    let face_names: Vec<&str> = faces
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "baton-http")
        .collect();
    for (name, manifest) in &core {
        for (dep, _) in baton_dependencies(manifest) {
            assert!(
                !face_names.contains(&dep.as_str()) && dep != "baton-http",
                "core crate {name} depends on the face {dep}"
            );
        }
    }
    for (name, manifest) in &faces {
        for (dep, _) in baton_dependencies(manifest) {
            assert!(
                !face_names.contains(&dep.as_str()),
                "face {name} depends on the face {dep}"
            );
        }
    }
}

#[test]
fn the_store_does_not_know_the_engine() {
    for (name, manifest) in crates_under("orchestrator/core") {
        if name.starts_with("baton-store") {
            let deps = baton_dependencies(&manifest);
            assert!(
                !deps.iter().any(|(d, _)| d == "baton-engine"),
                "{name} depends on the engine"
            );
        }
    }
}

#[test]
fn the_server_links_example_workers_only_for_dev() {
    let deps = baton_dependencies(&root().join("orchestrator/server/Cargo.toml"));
    for worker in ["baton-worker", "baton-worker-examples"] {
        let listed = deps.iter().find(|(d, _)| d == worker);
        assert!(
            listed.is_none_or(|(_, optional)| *optional),
            "the server depends on {worker} outside the dev feature"
        );
    }
}
