"""The toolchain's failures: the runtime's family (`edge_runtime.errors`: devices, models,
guests, the ABI table) extended by what only the tools raise. `cli.py` maps the whole family
(`EdgeRuntimeError`) to exit code 2."""

from __future__ import annotations

from edge_runtime.errors import EdgeRuntimeError


class BuildToolsError(EdgeRuntimeError):
    """A user-facing failure of the tools: printed as one line (plus a hint), exit code 2."""


class TargetError(BuildToolsError):
    """A target file is missing or invalid (names the file and field)."""


class ToolchainError(BuildToolsError):
    """An external tool is missing or failed."""
