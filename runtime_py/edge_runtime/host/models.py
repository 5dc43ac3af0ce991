"""The host's model registry: model names (docs/abi.md `load_by_name`) to .tflite files."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError

log = logging.getLogger(__name__)

NAME_RE = re.compile(rb"^[A-Za-z0-9_.-]{1,64}$")


def valid_name(name: bytes) -> bool:
    return NAME_RE.match(name) is not None


@dataclass
class ModelRegistry:
    paths: dict[str, Path] = field(default_factory=dict)
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def for_names(cls, names: list[str], find: Callable[[str], Path | None]) -> ModelRegistry:
        """The named models, located by `find` (the tools pass theirs: the project's own models,
        then the shared data); missing ones are logged and skipped."""
        reg = cls()
        for name in names:
            p = find(name)
            if p is not None:
                reg.paths[name] = p
            else:
                log.warning("model %s not found", name)
        return reg

    @classmethod
    def from_directory(cls, directory: Path, names: list[str] | None = None) -> ModelRegistry:
        """Every NAME.tflite in `directory`, or only `names` (missing ones are logged, skipped)."""
        reg = cls()
        if names is None:
            for p in sorted(directory.glob("*.tflite")):
                reg.paths[p.stem] = p
            return reg
        for name in names:
            p = directory / f"{name}.tflite"
            if p.is_file():
                reg.paths[name] = p
            else:
                log.warning("model %s not found at %s", name, p)
        return reg

    def add(self, name: str, path: Path) -> None:
        if not valid_name(name.encode()):
            raise ModelError(f"model name {name!r}: use 1-64 characters of [A-Za-z0-9_.-]")
        if not path.is_file():
            raise ModelError(f"model {name}: no such file {path}")
        self.paths[name] = path
        self._cache.pop(name, None)

    def put(self, name: str, data: bytes) -> None:
        """Registers model bytes directly (the DUT `put_model` primitive)."""
        if not valid_name(name.encode()):
            raise ModelError(f"model name {name!r}: use 1-64 characters of [A-Za-z0-9_.-]")
        self.paths.pop(name, None)
        self._cache[name] = data

    def names(self) -> list[str]:
        return sorted(set(self.paths) | set(self._cache))

    def get(self, name: str) -> bytes | None:
        data = self._cache.get(name)
        if data is None:
            path = self.paths.get(name)
            if path is None:
                return None
            data = path.read_bytes()
            self._cache[name] = data
        return data


def parse_model_option(value: str) -> tuple[str, Path]:
    """`NAME=PATH` from the command line."""
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise ModelError(f"--model {value!r}: expected NAME=PATH")
    return name, Path(path)
