//! The ONNX protobuf messages, generated at build time from the vendored `proto/onnx.proto3`.
#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
