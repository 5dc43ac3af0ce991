"""Builds the device side of the protocol (runtime_c/proto) for the tests, once per session."""

from __future__ import annotations

import importlib
import logging
import shutil
from pathlib import Path

from build_tools.errors import ToolchainError
from build_tools.paths import build_root, repo_root
from build_tools.toolchains.runner import run

log = logging.getLogger(__name__)


class MissingTool(ToolchainError):
    """A tool the build needs is not installed (tests skip on this, they fail on others)."""


PROTO_SRC = repo_root() / "runtime_c" / "proto"

# variant -> (cmake defines, target)
VARIANTS: dict[str, tuple[dict[str, str], str]] = {
    "plain": ({"PROTO_TESTDEV": "ON", "CMAKE_BUILD_TYPE": "Release"}, "proto_testdev"),
    "asan": (
        {
            "PROTO_TESTDEV": "ON",
            "PROTO_SANITIZE": "ON",
            "CMAKE_BUILD_TYPE": "Debug",
            "CMAKE_C_COMPILER": "clang-19",
        },
        "proto_testdev",
    ),
    "fuzz": ({"PROTO_FUZZ": "ON", "CMAKE_C_COMPILER": "clang-19"}, "fuzz_frames"),
}


def _cmake_build(source: Path, build_dir: Path, defines: dict[str, str], target: str) -> None:
    """Use the project's cmake adapter when it exists, else call cmake directly."""
    try:
        adapter = importlib.import_module("build_tools.toolchains.cmake")
    except ImportError:
        adapter = None
    if adapter is not None and hasattr(adapter, "build"):
        adapter.build(source, build_dir, defines, target=target)
        return
    cmake = shutil.which("cmake")
    if cmake is None:
        raise MissingTool("cmake not found on PATH (run ci/setup.sh)")
    flags = [f"-D{k}={v}" for k, v in sorted(defines.items())]
    run([cmake, "-S", str(source), "-B", str(build_dir), *flags], "configure runtime_c/proto")
    run([cmake, "--build", str(build_dir), "--target", target], f"build {target}")


def build_variant(variant: str) -> Path:
    """Configure and build one variant (incrementally); returns the binary."""
    defines, target = VARIANTS[variant]
    compiler = defines.get("CMAKE_C_COMPILER")
    if compiler and shutil.which(compiler) is None:
        raise MissingTool(f"{compiler} not found on PATH (needed for the {variant} build)")
    out = build_root() / "tests" / f"proto-{variant}"
    _cmake_build(PROTO_SRC, out, defines, target)
    binary = out / target
    assert binary.is_file(), f"cmake did not produce {binary}"
    return binary
