"""The one exception family for failures that are not bugs: bad input, missing tools, devices."""

from __future__ import annotations


class BuildToolsError(Exception):
    """A user-facing failure: printed as one line (plus a hint), exit code 2."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class TargetError(BuildToolsError):
    """A target file is missing or invalid (names the file and field)."""


class ToolchainError(BuildToolsError):
    """An external tool is missing or failed."""


class GuestRejected(BuildToolsError):
    """A compiled guest failed validation or imports something outside the allow-list."""


class DeviceError(BuildToolsError):
    """A device (process, emulator, board, remote host) failed or timed out."""


class ModelError(BuildToolsError):
    """A model could not be loaded by a backend (names backend, model and reason)."""


class AbiTableError(BuildToolsError):
    """The ABI import table (build_tools/abi/imports.toml) is malformed (names entry and field)."""
