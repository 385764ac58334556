//! Compiles `proto/helpline.proto` into Rust (prost messages, tonic client and server) without a
//! `protoc` binary: `protox` parses the proto in pure Rust, so a fresh machine needs no apt package.
//! The same descriptor set is written to `OUT_DIR` for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/helpline.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut compiler = protox::Compiler::new(["proto"])?;
    // Source info carries the proto's comments into the generated docs; imports make the descriptor set
    // self-contained (google/protobuf/timestamp.proto) so reflection clients can resolve every type.
    compiler.include_source_info(true).include_imports(true);
    compiler.open_file("helpline.proto")?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("helpline_descriptor.bin"), compiler.encode_file_descriptor_set())?;
    // The well-known types (Timestamp) map to `prost-types`; prost generates code only for our package.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
