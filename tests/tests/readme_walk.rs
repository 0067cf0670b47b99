//! Every shell command of README.md works as written: `scripts/readme-walk` runs the
//! README's `sh` blocks in order, in one bash session, against a fresh `baton dev` it
//! starts on a free port, with the binaries of this build (`baton`, the SDK's `hello`
//! example: `cargo test --workspace` builds both next to the test executables).
//! A block that fails fails this test with the block, its output and the orchestrator's
//! log.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `target/<profile>`: where `baton` and `examples/hello` of this build are.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

#[test]
fn every_shell_command_of_the_readme_works() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = bin_dir();
    for binary in ["baton", "examples/hello"] {
        assert!(
            dir.join(binary).is_file(),
            "{} is missing: run the tests with `cargo test --workspace`, which builds it (or \
             `cargo build --workspace --all-targets` first)",
            dir.join(binary).display()
        );
    }
    let output = Command::new("python3")
        .arg(root.join("scripts/readme-walk"))
        .arg("--bin-dir")
        .arg(&dir)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs scripts/readme-walk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "scripts/readme-walk failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("readme-walk: ok"), "{stdout}\n{stderr}");
}
