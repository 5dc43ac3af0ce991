"""The runtime's native libraries (today `libnnb`, the built-in NN backend): prebuilt for each
platform wheel into `edge_runtime/_native/` by the tools (`build_tools` compiles them for the
wheel's architecture), never compiled on a device.

Where a library comes from, first found: the environment variable `EDGE_RUNTIME_<NAME>_LIB`
(a path), the copy packaged in this installation, a builder registered by the tools of a source
checkout (`build_tools` registers one that builds it with CMake under `build/`). Otherwise the
library is unavailable here, said in one line.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path

from .errors import EdgeRuntimeError

NATIVE_DIR = Path(__file__).resolve().with_name("_native")

_builders: dict[str, Callable[[], Path]] = {}


class NativeUnavailable(EdgeRuntimeError):
    """A native library is not in this installation (names the library and the architecture)."""


def file_name(name: str) -> str:
    return f"lib{name}.so"


def env_var(name: str) -> str:
    return f"EDGE_RUNTIME_{name.upper()}_LIB"


def register_builder(name: str, build: Callable[[], Path]) -> None:
    """A source checkout's way to provide library `name` (returns its path, building it if
    needed); an installed wheel ships the library instead."""
    _builders[name] = build


def packaged(name: str) -> Path:
    return NATIVE_DIR / file_name(name)


def library_path(name: str) -> Path:
    var = env_var(name)
    override = os.environ.get(var)
    if override:
        path = Path(override)
        if not path.is_file():
            raise NativeUnavailable(f"{var}={override} does not exist")
        return path
    path = packaged(name)
    if path.is_file():
        return path
    build = _builders.get(name)
    if build is not None:
        return build()
    raise NativeUnavailable(f"no prebuilt lib{name} for {platform.machine()} in this installation")
