//! Compiles the simulator's own copy of Arroyo's RPC subset (`proto/arroyo_rpc.proto`)
//! with a pure-Rust protobuf compiler (protox, no system `protoc`), into server stubs
//! (the simulated controller) and client stubs (the simulator's tests, and tests of the
//! exporter that need a hand-written controller).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/arroyo_rpc.proto");
    let fds = protox::compile(["proto/arroyo_rpc.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
