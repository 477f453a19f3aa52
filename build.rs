//! Compiles `proto/arroyo_rpc.proto` with a pure-Rust protobuf compiler (protox), so a
//! fresh machine needs no system `protoc`, into client code only (the exporter serves no
//! gRPC; tests that need a server take the simulator's, `arroyo_sim::pb`), and records the
//! git revision for `arroyo_exporter_build_info`.

use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/arroyo_rpc.proto");
    let fds = protox::compile(["proto/arroyo_rpc.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;

    println!("cargo:rerun-if-env-changed=ARROYO_EXPORTER_REVISION");
    // Rebuild the revision when HEAD moves (a new commit or another branch).
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Some(reference) = head.strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=.git/{}", reference.trim());
        }
    }
    let revision = std::env::var("ARROYO_EXPORTER_REVISION").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    });
    if let Some(r) = revision {
        println!("cargo:rustc-env=ARROYO_EXPORTER_REVISION={r}");
    }
    Ok(())
}
