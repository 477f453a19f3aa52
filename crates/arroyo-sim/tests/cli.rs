//! The simulator's command line, run as a child process. Having an integration test also
//! makes `cargo test --workspace` build the binary into the shared target directory,
//! where the exporter's `tests/ops_live.rs` runs it.

use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_arroyo-exporter-sim"))
}

#[test]
fn help_lists_the_scenario_and_listen_flags() {
    let out = sim().arg("--help").output().expect("run the simulator");
    assert!(out.status.success(), "--help failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--scenario", "--rpc-listen", "--api-listen", "--pipelines"] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
}

#[test]
fn a_bad_flag_value_stops_it_with_the_flag_named() {
    let out = sim()
        .args(["--pipelines", "many"])
        .output()
        .expect("run the simulator");
    assert!(!out.status.success(), "started with --pipelines many");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--pipelines"),
        "error does not name the flag:\n{err}"
    );
}
