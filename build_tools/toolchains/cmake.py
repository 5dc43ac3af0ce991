"""The one adapter for CMake: exact command lines, and a build that runs them.

`configure_argv` and `build_argv` are pure (tested by exact list equality); `build` runs them
through `runner.run` (argv and cwd logged at debug level, failures raised as ToolchainError with
the tool's last output lines). A build directory already configured from the same source with
the same defines is not configured again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import runner

log = logging.getLogger(__name__)

CMAKE = "cmake"
INSTALL_HINT = "install cmake (apt-get install cmake; ci/setup.sh does)"
STAMP = "build_tools-configure.json"
BUILD_TIMEOUT_S = 1800  # upstream C++ (TFLM) takes minutes on two cores

DefineValue = str | int | bool


def _define(value: DefineValue) -> str:
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return str(value)


def configure_argv(
    source: str | Path, build_dir: str | Path, defines: Mapping[str, DefineValue]
) -> list[str]:
    """`cmake -S SRC -B DIR -DK=V...` with defines sorted by name (booleans as ON/OFF)."""
    argv = [CMAKE, "-S", str(source), "-B", str(build_dir)]
    argv += [f"-D{name}={_define(defines[name])}" for name in sorted(defines)]
    return argv


def build_argv(build_dir: str | Path, target: str | None = None, jobs: int = 2) -> list[str]:
    """`cmake --build DIR --parallel N [--target T]`."""
    argv = [CMAKE, "--build", str(build_dir), "--parallel", str(jobs)]
    if target is not None:
        argv += ["--target", target]
    return argv


def script_argv(script: str | Path, defines: Mapping[str, DefineValue]) -> list[str]:
    """`cmake -DK=V... -P SCRIPT` (script mode: no project, no compiler)."""
    return [CMAKE, *[f"-D{k}={_define(defines[k])}" for k in sorted(defines)], "-P", str(script)]


def run_script(script: str | Path, defines: Mapping[str, DefineValue]) -> list[str]:
    """Runs a CMake script; returns its STATUS messages (without the "-- " prefix)."""
    runner.require(CMAKE, INSTALL_HINT)
    out = runner.run(script_argv(script, defines), f"cmake script {Path(script).name}")
    return [line[3:] for line in out.splitlines() if line.startswith("-- ")]


def _stamp_text(source: Path, defines: Mapping[str, DefineValue]) -> str:
    # A toolchain file is read only at the first configure: its content is part of the key.
    toolchain = Path(str(defines.get("CMAKE_TOOLCHAIN_FILE", "")))
    toolchain_sha = (
        hashlib.sha256(toolchain.read_bytes()).hexdigest() if toolchain.is_file() else None
    )
    return json.dumps(
        {
            "source": str(source),
            "defines": {k: _define(v) for k, v in sorted(defines.items())},
            "toolchain_sha256": toolchain_sha,
        },
        sort_keys=True,
    )


@contextmanager
def _locked(build_dir: Path) -> Iterator[None]:
    """Serialises builds of one directory across processes (tests, benchmarks, the host)."""
    with open(build_dir / ".build_tools.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_configured(
    source: str | Path, build_dir: str | Path, defines: Mapping[str, DefineValue]
) -> bool:
    build = Path(build_dir)
    stamp = build / STAMP
    if not (build / "CMakeCache.txt").is_file() or not stamp.is_file():
        return False
    return stamp.read_text() == _stamp_text(Path(source).resolve(), defines)


def build(
    source: str | Path,
    build_dir: str | Path,
    defines: Mapping[str, DefineValue],
    target: str | None = None,
) -> None:
    """Configures (unless already configured the same way) and builds `target` (or all)."""
    runner.require(CMAKE, INSTALL_HINT)
    src = Path(source).resolve()
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    with _locked(build):
        if is_configured(src, build, defines):
            log.debug("cmake: %s already configured with the same defines", build)
        else:
            (build / STAMP).unlink(missing_ok=True)
            # A fresh cache: values cached by an earlier configure (compiler, toolchain flags)
            # must not survive a change of defines or toolchain.
            (build / "CMakeCache.txt").unlink(missing_ok=True)
            runner.run(configure_argv(src, build, defines), f"cmake configure of {src}")
            (build / STAMP).write_text(_stamp_text(src, defines))
        runner.run(build_argv(build, target), f"cmake build of {build}", timeout=BUILD_TIMEOUT_S)
