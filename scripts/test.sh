#!/usr/bin/env bash
# The test suite, from a fresh clone: installs the pinned onnx package into .venv, writes the
# ONNX backend test cases into target/onnx-tests, then runs every Rust test. The conformance
# test prints its "N passed, M failed, U unsupported" counts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_venv.sh
.venv/bin/python scripts/gen_onnx_tests.py target/onnx-tests
cargo fmt --all -- --check
# A one-off build gains nothing from incremental state, which would double the target folder.
CARGO_INCREMENTAL=0 cargo test --workspace -- --show-output
