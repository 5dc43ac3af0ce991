"""The imports a guest may use: the allow-list of docs/abi.md (sections 3, 4, 6, 7 and 8), from the
ABI table."""

from __future__ import annotations

from .abi import load_table
from .errors import GuestRejected
from .wasm_binary import FuncType, ModuleInfo

WASI_NN = "wasi_ephemeral_nn"
WASI_NN_LEGACY = "wasi_nn"  # the legacy WAMR ABI (docs/abi.md section 8)
WASI = "wasi_snapshot_preview1"
EVP = "env"  # the EVP module SDK (docs/abi.md section 6)
IMAGE = "edge_image"  # image handles (docs/abi.md section 7)

# module -> import names; derived from the ABI table (runtime_py/edge_runtime/abi/imports.toml).
ALLOWED_IMPORTS: dict[str, frozenset[str]] = load_table().allowed_imports()


def check_imports(info: ModuleInfo, what: str) -> None:
    """Refuses a guest that imports anything outside the allow-list, naming the import."""
    for imp in info.imports:
        if imp.kind != "func":
            raise GuestRejected(
                f"{what}: imports {imp.kind} {imp.module}.{imp.name}; guests may import functions only",
                hint="see docs/abi.md",
            )
        allowed = ALLOWED_IMPORTS.get(imp.module)
        if allowed is None or imp.name not in allowed:
            raise GuestRejected(
                f"{what}: import {imp.module}.{imp.name} is not in the allowed ABI",
                hint="guests may import only what docs/abi.md lists",
            )
        expected = abi_type(imp.module, imp.name)
        if imp.type is not None and imp.type != expected:
            raise GuestRejected(
                f"{what}: import {imp.module}.{imp.name} has type {imp.type}; the ABI's is "
                f"{expected}",
                hint="see docs/abi.md",
            )


def abi_type(module: str, name: str) -> FuncType | None:
    """The wasm function type of an allowed import (None if not in the table)."""
    fn = load_table().function(module, name)
    if fn is None:
        return None
    return FuncType(tuple(p.type for p in fn.params), (fn.result,) if fn.result else ())
