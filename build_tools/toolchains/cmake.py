"""The one adapter for CMake: exact command lines, and a build that runs them.

`configure_argv` and `build_argv` are pure (tested by exact list equality); `build` runs them
through `runner.run` (argv and cwd logged at debug level, failures raised as ToolchainError with
the tool's last output lines). A build directory already configured from the same source with
the same defines is not configured again.
"""

from __future__ import annotations

import fcntl
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


def _stamp_text(source: Path, defines: Mapping[str, DefineValue]) -> str:
    return json.dumps(
        {"source": str(source), "defines": {k: _define(v) for k, v in sorted(defines.items())}},
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
            runner.run(configure_argv(src, build, defines), f"cmake configure of {src}")
            (build / STAMP).write_text(_stamp_text(src, defines))
        runner.run(build_argv(build, target), f"cmake build of {build}")
