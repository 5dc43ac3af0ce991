#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages + the project venv.
# Safe to run twice; works as root or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  clang-19 lld-19 clang-format-19 wasi-libc libclang-rt-19-dev-wasm32 libclang-rt-19-dev wabt cmake
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc qemu-user
  mosquitto mosquitto-clients openssh-server python3-venv
  fonts-dejavu-core
  libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Both projects, editable: the runtime (runtime_py/, what a device runs) and the tools that depend
# on it. Re-install only when a pyproject.toml changed since the last successful install.
stamp=.venv/.build_tools-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ runtime_py/pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ./runtime_py -e ".[dev]"
  touch "$stamp"
fi

# Second environment: tflite-runtime (needs numpy<2), for `--backend tflite-runtime`
# (pyproject.toml [tool.build_tools.tflite-runtime-env]). SKIP_TFLITE_RUNTIME_ENV=1 skips it
# (a platform without a tflite-runtime wheel; ci/test.sh needs it).
TFLRT=.venv-tflite-runtime
tflrt_stamp=$TFLRT/.build_tools-installed
if [ "${SKIP_TFLITE_RUNTIME_ENV:-}" = "" ] && { [ ! -f "$tflrt_stamp" ] || [ pyproject.toml -nt "$tflrt_stamp" ] || [ runtime_py/pyproject.toml -nt "$tflrt_stamp" ]; }; then
  [ -x $TFLRT/bin/python ] || "$PY" -m venv $TFLRT
  mapfile -t tflrt_reqs < <("$PY" - <<'PYEOF'
import re, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
rt = tomllib.load(open("runtime_py/pyproject.toml", "rb"))["project"]
env = p["tool"]["build_tools"]["tflite-runtime-env"]
name = lambda req: re.split(r"[=<>!~;\[ ]", req, maxsplit=1)[0].strip().lower()
drop = {name(d) for d in env["drop"]} | {rt["name"]}
reqs = p["project"]["dependencies"] + rt["dependencies"]
reqs += [r for extra in rt.get("optional-dependencies", {}).values() for r in extra]
for req in reqs:
    if name(req) not in drop:
        print(req)
for req in env["add"]:
    print(req)
PYEOF
)
  $TFLRT/bin/python -m pip install -q --upgrade pip
  $TFLRT/bin/python -m pip install -q "${tflrt_reqs[@]}"
  $TFLRT/bin/python -m pip install -q --no-deps -e ./runtime_py -e .
  touch "$tflrt_stamp"
fi

# The 2.x ESP-IDF validators (what PlatformIO's espressif32 platform runs) in a small venv of
# their own: they cannot share the project venv with the 3.x lines.
if [ ! -x .venv-idf2/bin/python ]; then
  "$PY" -m venv .venv-idf2
fi
stamp2=.venv-idf2/.installed
if [ ! -f "$stamp2" ] || [ ci/requirements-idf2.txt -nt "$stamp2" ]; then
  .venv-idf2/bin/python -m pip install -q -r ci/requirements-idf2.txt
  touch "$stamp2"
fi
