"""Shared fixtures: an isolated build directory and the reference data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_tools.paths import shared_root


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "build"
    monkeypatch.setenv("BUILD_TOOLS_BUILD_DIR", str(out))
    return out


def shared_file(relative: str) -> Path:
    """A file of the third-party reference data, or a skip naming what is missing."""
    path = shared_root() / relative
    if not path.exists():
        pytest.skip(
            f"reference data {relative} not found beside the project (../shared/{relative})"
        )
    return path
