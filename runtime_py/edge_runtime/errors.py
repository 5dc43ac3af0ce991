"""The one exception family for failures that are not bugs: bad input, devices, models.

`build_tools` extends it (`build_tools.errors`); its CLI maps the whole family to exit code 2,
and so does the runtime's own entry point (`python -m edge_runtime`)."""

from __future__ import annotations


class EdgeRuntimeError(Exception):
    """A user-facing failure: printed as one line (plus a hint), exit code 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class GuestRejected(EdgeRuntimeError):
    """A compiled guest failed validation or imports something outside the allow-list."""


class DeviceError(EdgeRuntimeError):
    """A device (process, emulator, board, remote host) failed or timed out."""


class ModelError(EdgeRuntimeError):
    """A model could not be loaded by a backend (names backend, model and reason)."""


class AbiTableError(EdgeRuntimeError):
    """The ABI import table (edge_runtime/abi/imports.toml) is malformed (names entry and field)."""
