#!/usr/bin/env bash
# The main job on the no-hardware targets: set-up (idempotent), then build and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
.venv/bin/python -m build_tools demo "$@"
