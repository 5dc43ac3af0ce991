"""The imports a guest may use: the allow-list of docs/abi.md (sections 3 and 4)."""

from __future__ import annotations

from .errors import GuestRejected
from .wasm_binary import ModuleInfo

WASI_NN = "wasi_ephemeral_nn"
WASI = "wasi_snapshot_preview1"

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    WASI_NN: frozenset(
        {
            "load",
            "load_by_name",
            "load_by_name_with_config",
            "init_execution_context",
            "set_input",
            "compute",
            "get_output",
        }
    ),
    WASI: frozenset(
        {
            "fd_write",
            "fd_close",
            "fd_seek",
            "fd_fdstat_get",
            "fd_read",
            "proc_exit",
            "args_sizes_get",
            "args_get",
            "environ_sizes_get",
            "environ_get",
            "clock_time_get",
            "random_get",
            "sched_yield",
        }
    ),
}


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
