"""Runtime/firmware builders, registered by the target's `build.system`.

`build TARGET` and the device adapters ask `builder_for(target)` for the builder of the target's
build system ("cmake": the C runtime natively or cross-compiled for a bare-metal platform;
"platformio": ESP32 firmware; "none": guests only). No code here or in the callers branches on
target or platform names: a builder reads what it needs from the target's fields and from the
component descriptions under runtime_c/.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from ..errors import BuildToolsError
from ..guests import BuildResult
from ..runtime_c import GeneratedSources
from ..targets import Target


@dataclass(frozen=True)
class RuntimeImage:
    """What a runtime build produced: the executable or firmware image and its provenance."""

    target: Target
    binary: Path  # native executable, or the firmware ELF
    build_dir: Path
    sources: GeneratedSources
    guests: BuildResult
    sanitize: bool = False
    map_file: Path | None = None
    # object file name -> component (platform, core, proto, engine, backend, guest:x, models)
    objects: dict[str, str] = field(default_factory=dict)


class FirmwareBuilder(ABC):
    """Builds the runtime of targets with one build system."""

    build_system: ClassVar[str]

    @abstractmethod
    def build(
        self, target: Target, guests: BuildResult | None = None, sanitize: bool = False
    ) -> RuntimeImage:
        """Brings the runtime up to date (incrementally) and returns it."""

    @abstractmethod
    def output_path(self, target: Target, sanitize: bool = False) -> Path:
        """Where `build` puts the runtime binary (whether or not it exists yet)."""

    def generate(self, target: Target, guests: BuildResult | None = None) -> str:
        """Writes the build's inputs (project files, generated sources, images) without running
        the external build (`build --generate-only`); returns a short summary."""
        raise BuildToolsError(
            f"target {target.name}: build.system {self.build_system!r} has no separate "
            "generate step (--generate-only)"
        )

    @abstractmethod
    def describe(self, image: RuntimeImage) -> str:
        """A short human summary for `build`: the image, models, memory against budgets."""


_BUILDERS: dict[str, type[FirmwareBuilder]] = {}
B = TypeVar("B", bound=type[FirmwareBuilder])


def register(cls: B) -> B:
    """Class decorator: makes `cls` the builder of its `build_system`."""
    _BUILDERS[cls.build_system] = cls
    return cls


def _load_builders() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def builder_for(target: Target) -> FirmwareBuilder | None:
    """The builder of the target's runtime; None when the target runs no firmware of ours
    (build.system "none": guests only, e.g. the Python host)."""
    if target.runtime.kind != "c":
        return None
    _load_builders()
    cls = _BUILDERS.get(target.build.system)
    if cls is None:
        raise BuildToolsError(
            f"target {target.name}: no runtime builder for build.system "
            f"{target.build.system!r} (known: {', '.join(sorted(_BUILDERS)) or 'none'})"
        )
    return cls()


def require_builder(target: Target) -> FirmwareBuilder:
    builder = builder_for(target)
    if builder is None:
        raise BuildToolsError(f"target {target.name}: runs no C runtime to build")
    return builder
