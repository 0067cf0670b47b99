//! The Python virtualenv of the tests that drive real Python packages: the PyPI worker
//! SDK (`python_compat`), `jsonschema` (`blueprint_schema`) and `selenium`
//! (`dashboard_browser`). Made on first use from
//! `tests/python/requirements.txt` unless `BATON_PY_VENV` points at one that has them.

use std::path::PathBuf;
use std::process::Command;

pub fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// A venv with the pinned packages, made on first use.
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("BATON_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("baton-py-venv-awk1.0b19-js"));
    let python = dir.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import avtomatika_worker, rxon, jsonschema, yaml, selenium; assert rxon.constants.PROTOCOL_VERSION == '1.0b15'"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is installed");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(python_dir().join("requirements.txt"))
            .status()
            .expect("pip runs");
        assert!(
            status.success(),
            "pip install of avtomatika-worker failed (is PyPI reachable?)"
        );
    }
    dir
}
