//! Compiles the vendored `onnx.proto3` with protox (pure Rust: no `protoc` binary needed).

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto3");
    let fds = protox::compile(["onnx.proto3"], ["proto"]).expect("vendored onnx.proto3 compiles");
    prost_build::Config::new()
        .compile_fds(fds)
        .expect("prost generates the ONNX bindings");
}
