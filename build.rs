//! Compiles `proto/arroyo_rpc.proto` with a pure-Rust protobuf compiler (protox), so a
//! fresh machine needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/arroyo_rpc.proto");
    let fds = protox::compile(["proto/arroyo_rpc.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
