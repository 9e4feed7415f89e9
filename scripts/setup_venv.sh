#!/usr/bin/env bash
# Creates the project's Python environment (.venv) with the pinned onnx package that writes the
# conformance cases. Idempotent and quick once done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.tenfold-requirements"
REQS="onnx==1.23.2 numpy==2.2.6"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQS" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS
echo "$REQS" > "$STAMP"
