"""Where things live: the repository, its build tree and the shared reference data."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def build_root() -> Path:
    override = os.environ.get("BUILD_TOOLS_BUILD_DIR")
    return Path(override) if override else repo_root() / "build"


def shared_root() -> Path:
    """Reference models and images, beside the project (third-party data, never copied in)."""
    override = os.environ.get("BUILD_TOOLS_SHARED_DIR")
    return Path(override) if override else repo_root().parent / "shared"


def project_models_dir() -> Path:
    """The project's own models (e.g. the plate demo's OCR model, trained by a committed
    script); third-party models stay in shared_root()."""
    return repo_root() / "guests" / "models"


def find_model(name: str) -> Path | None:
    """NAME.tflite among the project's own models, else in the shared reference data."""
    for directory in (project_models_dir(), shared_root() / "models"):
        path = directory / f"{name}.tflite"
        if path.is_file():
            return path
    return None
