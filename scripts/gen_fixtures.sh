#!/usr/bin/env bash
# Regenerates tests/fixtures/ (small random-weight GPT-2, BERT and ViT models exported to ONNX, with
# ONNX Runtime's outputs as the expected values). Creates or reuses the Python environment
# .venv-fixtures with the pinned exporter stack; the install is skipped when the stamp file shows
# the same requirements. Extra arguments go to scripts/gen_fixtures.py (e.g. another output dir).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-fixtures
STAMP="$VENV/.tenfold-requirements"
# onnx-ir is onnxscript's IR; pinned as well because it shapes the exported graph.
REQS="torch==2.15.0 transformers==5.23.0 onnxscript==0.7.2 onnx-ir==1.1.0 onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$REQS" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS
  echo "$REQS" > "$STAMP"
fi
exec "$VENV/bin/python" scripts/gen_fixtures.py "$@"
