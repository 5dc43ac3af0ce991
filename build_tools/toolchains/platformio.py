"""The one adapter for PlatformIO (the `platformio` Python package, pinned in pyproject.toml).

Pure parts: the pinned platform (`PLATFORM_SPEC`, rendered into platformio.ini), `run_argv`,
`lint` (PlatformIO's own parser: `ProjectConfig.lint`). Impure parts: whether the espressif32
platform is installed (PlatformIO's package manager, offline) and `build`, which runs
`pio run -e ENV` through `runner` and lists the images the build left behind.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from . import runner

log = logging.getLogger(__name__)

PLATFORM = "espressif32"
# platform-espressif32 6.13.0 bundles ESP-IDF 5.5 and pins idf-component-manager ~=2.2 and
# esp-idf-kconfig ~=2.5.0 in its own venv (what ci/setup.sh installs in .venv-idf2 to check
# the generated files against). Same revision as the board definitions in the third-party cache.
PLATFORM_VERSION = "6.13.0"
PLATFORM_SPEC = f"{PLATFORM} @ {PLATFORM_VERSION}"
INSTALL_HINT = (
    f"with internet access: {sys.executable} -m platformio pkg install --global "
    f"--platform '{PLATFORM}@{PLATFORM_VERSION}' (platformio itself: pip install -e '.[dev]')"
)


def pio_argv() -> list[str]:
    """PlatformIO as installed in this interpreter's environment (no PATH lookup needed)."""
    return [sys.executable, "-m", "platformio"]


def run_argv(project_dir: Path, env: str) -> list[str]:
    return [*pio_argv(), "run", "--project-dir", str(project_dir), "--environment", env]


def lint(ini: Path) -> dict[str, list[Any]]:
    """`ProjectConfig.lint` on a platformio.ini: {"errors": [...], "warnings": [...]}."""
    from platformio.project.config import ProjectConfig

    result: dict[str, list[Any]] = ProjectConfig.lint(str(ini))
    return result


def platform_json() -> Path:
    """Where PlatformIO keeps the installed platform (its core directory, PLATFORMIO_CORE_DIR)."""
    core = os.environ.get("PLATFORMIO_CORE_DIR") or str(Path.home() / ".platformio")
    return Path(core) / "platforms" / PLATFORM / "platform.json"


def missing() -> str | None:
    """What is missing to run a PlatformIO build here, or None."""
    try:
        from platformio.package.manager.platform import PlatformPackageManager
    except ImportError:
        return "the platformio package is not installed"
    if PlatformPackageManager().get_package(f"{PLATFORM}@{PLATFORM_VERSION}") is None:
        return f"the PlatformIO platform {PLATFORM_SPEC} is not installed"
    return None


@dataclass(frozen=True)
class BuildOutputs:
    bootloader: Path
    partitions: Path
    app: Path
    elf: Path


def outputs(project_dir: Path, env: str) -> BuildOutputs:
    build = project_dir / ".pio" / "build" / env
    return BuildOutputs(
        bootloader=build / "bootloader.bin",
        partitions=build / "partitions.bin",
        app=build / "firmware.bin",
        elf=build / "firmware.elf",
    )


def build(project_dir: Path, env: str) -> BuildOutputs:
    """`pio run -e ENV`; raises ToolchainError (exit 2) naming what is missing and how to get it."""
    why = missing()
    if why is not None:
        raise ToolchainError(f"cannot build {project_dir}: {why}", hint=INSTALL_HINT)
    runner.run(run_argv(project_dir, env), f"PlatformIO build of {env}", timeout=3600)
    out = outputs(project_dir, env)
    for path in (out.bootloader, out.partitions, out.app):
        if not path.is_file():
            raise ToolchainError(f"PlatformIO build of {env} finished but {path} is missing")
    return out
