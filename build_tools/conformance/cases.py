"""Loads conformance cases from TOML (format: tests/conformance/README.md)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildToolsError
from ..paths import repo_root


class CaseError(BuildToolsError):
    """A case file is malformed (names the file and case)."""


@dataclass(frozen=True)
class Case:
    id: str
    guest: str
    description: str
    buffers: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    models: tuple[str, ...] = ()
    memory_kib: int = 0
    tolerance: dict[str, Any] = field(default_factory=dict)  # backend (or "default") -> spec
    source: str = ""


def cases_dir() -> Path:
    return repo_root() / "tests" / "conformance" / "cases"


BUFFER_KINDS = {
    "text",
    "hex",
    "u32",
    "zeros",
    "image",
    "synthetic",
    "model_file",
    "builder",
    "tensor",
    "f32_rounding",
    "f32_random",
    "model_prefix",
}
STEP_KINDS = {"call", "read", "logs_contain", "logs_exclude", "compare", "instantiate"}


def _parse(path: Path, raw: dict[str, Any]) -> Case:
    where = f"{path.name}: case {raw.get('id', '?')!r}"
    for key in ("id", "guest"):
        if not isinstance(raw.get(key), str):
            raise CaseError(f"{where}: field '{key}' must be a string")
    buffers = raw.get("buffer", [])
    for b in buffers:
        kinds = BUFFER_KINDS & set(b)
        if "name" not in b or len(kinds) != 1:
            raise CaseError(
                f"{where}: buffer {b.get('name')!r} needs a name and one of {sorted(BUFFER_KINDS)}"
            )
    steps = raw.get("step", [])
    if not steps:
        raise CaseError(f"{where}: no steps")
    for i, s in enumerate(steps):
        if len(STEP_KINDS & set(s)) != 1:
            raise CaseError(f"{where}: step {i} needs exactly one of {sorted(STEP_KINDS)}")
    req = raw.get("requires", {})
    tol = raw.get("tolerance", {"default": "exact"})
    if isinstance(tol, str | list):
        tol = {"default": tol}
    return Case(
        id=raw["id"],
        guest=raw["guest"],
        description=raw.get("description", ""),
        buffers=buffers,
        steps=steps,
        models=tuple(req.get("models", ())),
        memory_kib=int(req.get("memory_kib", 0)),
        tolerance=tol,
        source=path.name,
    )


def load_cases(directory: Path | None = None) -> list[Case]:
    directory = directory or cases_dir()
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise CaseError(f"{path.name}: not valid TOML: {e}") from e
        for raw in data.get("case", []):
            case = _parse(path, raw)
            if case.id in seen:
                raise CaseError(f"{path.name}: duplicate case id {case.id!r}")
            seen.add(case.id)
            cases.append(case)
    return cases
