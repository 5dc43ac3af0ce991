"""Adapter for pip and venv: argv builders (pure), used locally (wheel, download) and on a
device over SSH (venv, install)."""

from __future__ import annotations

from pathlib import Path


def wheel_argv(python: str, project: Path, out_dir: Path) -> list[str]:
    return [python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), str(project)]


def download_argv(python: str, requirements: Path, out_dir: Path) -> list[str]:
    return [
        python,
        "-m",
        "pip",
        "download",
        "-q",
        "--only-binary=:all:",
        "-d",
        str(out_dir),
        "-r",
        str(requirements),
    ]


def venv_argv(python: str, venv: str) -> list[str]:
    return [python, "-m", "venv", venv]


def install_wheel_argv(venv_python: str, wheel: str) -> list[str]:
    """The project wheel alone: its dependencies come from the device requirements."""
    return [venv_python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel]


def install_requirements_argv(
    venv_python: str, requirements: str, wheelhouse: str | None
) -> list[str]:
    offline = ["--no-index", "--find-links", wheelhouse] if wheelhouse else []
    return [venv_python, "-m", "pip", "install", "-q", *offline, "-r", requirements]
