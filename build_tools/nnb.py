"""libnnb, the built-in int8 backend's shared library (runtime_c/nn/builtin), built with the
cmake adapter from the one C component description: natively under build/nnb/<config>/ (tests,
the source checkout's runtime), and for a platform wheel's architecture with a CMake toolchain
file (cross: build/nnb/release-<arch>/). The runtime (edge_runtime.native) only loads it."""

from __future__ import annotations

import platform
from pathlib import Path

from edge_runtime import native

from .errors import BuildToolsError
from .paths import build_root, repo_root
from .toolchains import cmake

SOURCE_DIR = repo_root() / "runtime_c" / "nn" / "builtin"
LIB_NAME = native.file_name("nnb")

# "scalar": the kernel shapes of MCUs without SIMD (rv32), built on the host for the tests.
CONFIGS: dict[str, dict[str, cmake.DefineValue]] = {
    "release": {"NNB_SANITIZE": False},
    "asan": {"NNB_SANITIZE": True},
    "scalar": {"NNB_SANITIZE": False, "NNB_SCALAR_KERNELS": True},
}

# Architecture (`uname -m`, a target's `arch`) -> CMake toolchain file of its cross build.
CROSS_TOOLCHAINS = {
    "aarch64": repo_root() / "runtime_c" / "cmake" / "toolchain-aarch64-linux-gnu.cmake",
}


def build_dir(config: str = "release") -> Path:
    return build_root() / "nnb" / config


def build_library(config: str = "release", target: str = "nnb_shared") -> Path:
    """Builds `target` of a config in CONFIGS (release, asan, scalar) for this machine; returns
    the build dir's libnnb.so path. Tests build "nnb_check" (the command-line driver) the same
    way."""
    out = build_dir(config)
    cmake.build(SOURCE_DIR, out, {**CONFIGS[config], "NNB_TOOLS": True}, target=target)
    return out / LIB_NAME


def library_for(arch: str) -> Path:
    """The release libnnb.so for `arch`: this machine's build, or the cross build."""
    if arch == platform.machine():
        return build_library()
    toolchain = CROSS_TOOLCHAINS.get(arch)
    if toolchain is None:
        raise BuildToolsError(
            f"libnnb for {arch}: no cross toolchain (known: {', '.join(sorted(CROSS_TOOLCHAINS))})"
        )
    out = build_root() / "nnb" / f"release-{arch}"
    defines: dict[str, cmake.DefineValue] = {
        **CONFIGS["release"],
        "CMAKE_TOOLCHAIN_FILE": str(toolchain),
    }
    cmake.build(SOURCE_DIR, out, defines, target="nnb_shared")
    return out / LIB_NAME
