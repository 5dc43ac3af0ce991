#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
# In CI a skip fails the run unless tests/skip_allowlist.toml lists it (tests/skips.py).
export CI="${CI:-1}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# C sources: the checked-in .clang-format (project code only; upstream is never in the tree)
git ls-files -z 'runtime_c/*.c' 'runtime_c/*.h' 'runtime_c/*.cc' 'guests/*.c' 'guests/*.h' 'tests/*.c' | xargs -0 clang-format-19 --dry-run -Werror
.venv/bin/python -m pytest "$@"
# tflite-runtime in its own environment (numpy<2): the host conformance suite on that backend;
# as in pytest, a failed or skipped case fails CI. person_detect is left out: tflite-runtime
# refuses its per-channel quantization (quantized_dimension), and a backend chosen with
# --backend never falls back to another (docs/abi.md), so its cases (inference and the image
# cases that feed it) cannot run there.
mkdir -p build
.venv-tflite-runtime/bin/python -m build_tools test host --backend tflite-runtime \
    -k '^(?!infer\.person_detect\.|image\.to_tensor\.(person_detect|mismatch)$)' | tee build/tflite-runtime-suite.txt
tail -n 1 build/tflite-runtime-suite.txt | grep -q ", 0 failed, 0 skipped$"
