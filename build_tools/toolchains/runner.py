"""Runs external commands: logs argv and cwd at debug level, turns failures into ToolchainError."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToolchainError

log = logging.getLogger(__name__)


def require(tool: str, install_hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolchainError(f"{tool} not found on PATH", hint=install_hint)
    return path


def run(argv: Sequence[str], what: str, cwd: Path | None = None, timeout: float = 600) -> str:
    """Runs argv; returns stdout. `what` names the step in the error message."""
    log.debug("run: %s (cwd=%s)", " ".join(argv), cwd or ".")
    try:
        proc = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        raise ToolchainError(
            f"{what}: {argv[0]} not found", hint="run: python -m build_tools doctor"
        ) from e
    except subprocess.TimeoutExpired as e:
        raise ToolchainError(f"{what}: {argv[0]} timed out after {timeout:.0f} s") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise ToolchainError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout
