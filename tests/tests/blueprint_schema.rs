//! `blueprints/blueprint.schema.json` (for editors and CI linting of users' blueprints)
//! agrees with the loader: every shipped and test blueprint validates, and a typo the
//! loader refuses is refused by the schema too. Checked with Python's `jsonschema`.

use baton_tests::python::{python_dir, venv};
use std::path::PathBuf;
use std::process::Command;

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("blueprint dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn check(files: &[PathBuf]) -> (bool, String) {
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../blueprints/blueprint.schema.json");
    let out = Command::new(venv().join("bin/python"))
        .arg(python_dir().join("check_blueprints.py"))
        .arg(schema)
        .args(files)
        .output()
        .expect("python runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_blueprint_matches_the_schema_and_typos_do_not() {
    let mut files = yaml_files("../blueprints");
    files.extend(yaml_files("blueprints"));
    assert!(files.len() >= 9, "{files:?}");
    let (ok, report) = check(&files);
    assert!(ok, "{report}");
    assert_eq!(report.matches(": ok").count(), files.len(), "{report}");

    let dir = std::env::temp_dir().join(format!("baton-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let shipped = files
        .iter()
        .find(|p| p.ends_with("parallel.yaml"))
        .expect("parallel.yaml ships");
    let parallel = std::fs::read_to_string(shipped).expect("read");
    for (name, from, to) in [
        ("typo.yaml", "on_failure: collect", "on_failur: collect"),
        ("kind.yaml", "type: parallel", "type: paralel"),
        (
            "policy.yaml",
            "on_failure: collect",
            "on_failure: sometimes",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, parallel.replace(from, to)).expect("write");
        let (ok, report) = check(&[path]);
        assert!(!ok && report.contains("INVALID"), "{name}: {report}");
    }
    // A duration the loader refuses (more than 1000000000 s) is refused by the schema.
    let echo = std::fs::read_to_string("../blueprints/echo.yaml").expect("echo.yaml ships");
    let path = dir.join("huge.yaml");
    let huge = echo.replace("result_timeout: 60", "result_timeout: 1.0e+20");
    assert_ne!(huge, echo);
    std::fs::write(&path, huge).expect("write");
    let (ok, report) = check(&[path]);
    assert!(!ok && report.contains("INVALID"), "huge.yaml: {report}");
}
