//! The `baton` binary as an operator runs it: `check-blueprints` on the shipped
//! blueprints and on a broken one, and `serve` refusing to start without tokens.
//! (Being an integration test of this package, it also makes `cargo test` build the
//! binary that the process-level tests of `baton-tests` start.)

use std::process::Command;

fn baton() -> Command {
    Command::new(env!("CARGO_BIN_EXE_baton"))
}

#[test]
fn check_blueprints_lists_the_shipped_ones_and_names_a_broken_file() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../blueprints");
    let out = baton()
        .args(["check-blueprints", shipped])
        .env("BATON_LOG", "error")
        .output()
        .expect("baton runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("POST /api/v1/jobs/echo"), "{text}");

    let dir = std::env::temp_dir().join(format!("baton-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "name: broken\nstates:\n  a: {type: teleport}\n",
    )
    .unwrap();
    let out = baton()
        .args(["check-blueprints", dir.to_str().unwrap()])
        .env("BATON_LOG", "error")
        .output()
        .expect("baton runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.yaml"), "{err}");
}

#[test]
fn serve_refuses_to_start_without_tokens() {
    let out = baton()
        .arg("serve")
        .env_remove("BATON_CLIENT_TOKEN")
        .env_remove("BATON_CLIENTS_FILE")
        .env("BATON_LISTEN", "127.0.0.1:0")
        .env("BATON_LOG", "error")
        .output()
        .expect("baton runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no client token"));
}
