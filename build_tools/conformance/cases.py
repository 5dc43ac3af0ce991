"""Loads conformance cases from TOML and checks them against the format of
tests/conformance/README.md: an unknown key, a misspelt status or error name is an error that
names the file, the case and the key (a typo must never make a step pass silently)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildToolsError
from ..paths import repo_root
from .image_ref import FORMATS


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
    "legacy_tensor",
    "f32_rounding",
    "f32_random",
    "model_prefix",
    "model_flip",
    "pixels",
    "photo",
}
STEP_KINDS = {"call", "read", "logs_contain", "logs_exclude", "compare", "instantiate"}

CASE_KEYS = {"id", "guest", "description", "buffer", "step", "requires", "tolerance"}
REQUIRES_KEYS = {"models", "memory_kib"}
# Keys of a buffer's kind table (kinds whose value is a table).
BUFFER_TABLES = {
    "synthetic": {"count", "seed"},
    "f32_rounding": {"count", "zero_point"},
    "f32_random": {"count", "seed", "scale", "zero_point"},
    "model_prefix": {"model", "bytes"},
    "model_flip": {"model", "offset"},
    "tensor": {"dims_ptr", "dims_len", "type", "data_ptr", "data_len"},
    "pixels": {"width", "height", "format", "seed"},
    "legacy_tensor": {"dims_ptr", "type", "data_ptr"},
}
BUFFER_EXTRA = {"text": {"format"}}  # keys a kind allows beside `name` and itself
STEP_KEYS = {
    "call": {
        "args",
        "expect",
        "expect_min",
        "expect_status",
        "expect_message",
        "expect_exit",
        "instance",
        "repeat",
        "save",
    },
    "read": {"expect_hex", "expect_u32", "expect_output", "expect_image", "save"},
    "logs_contain": {"instance"},
    "logs_exclude": {"instance"},
    "compare": set(),
    "instantiate": {"guest"},
}
READ_RANGE_KEYS = {"addr", "len"}
EXPECT_OUTPUT_KEYS = {"model", "input", "index", "f32", "scale", "zero_point", "ops", "layout"}
EXPECT_IMAGE_KEYS = {"input", "ops"}
IMAGE_OPS = {"crop": 4, "resize": 3, "rotate": 1, "convert": 1}  # op -> argument count
CALL_STATUSES = ("ok", "trap", "timeout", "exit", "error")  # devices.base.STATUSES
COMPARE_OPS = (">", "<", "==", "!=", ">=")


def nn_error_codes() -> dict[str, int]:
    """wasi-nn error names as the ABI spells them (`not_found`) -> code (docs/abi.md)."""
    from edge_runtime.host.wasi_nn import NnError

    return {e.name.lower(): int(e) for e in NnError}


def _unknown(where: str, what: str, table: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise CaseError(
            f"{where}: {what}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def _check_buffer(where: str, b: dict[str, Any]) -> None:
    kind = next(iter(BUFFER_KINDS & set(b)))
    what = f"buffer {b['name']!r}"
    _unknown(where, what, b, {"name", kind, *BUFFER_EXTRA.get(kind, ())})
    if kind in BUFFER_TABLES:
        if not isinstance(b[kind], dict):
            raise CaseError(f"{where}: {what}: {kind} must be a table")
        _unknown(where, f"{what} {kind}", b[kind], BUFFER_TABLES[kind])
    if kind == "pixels" and b[kind].get("format") not in FORMATS:
        raise CaseError(f"{where}: {what}: format must be one of {', '.join(FORMATS)}")


def _check_ops(where: str, what: str, ops: Any) -> None:
    """Image ops: a list of [name, args...] with a known name and its argument count."""
    for op in ops if isinstance(ops, list) else [ops]:
        if not (isinstance(op, list) and op and IMAGE_OPS.get(op[0]) == len(op) - 1):
            raise CaseError(
                f"{where}: {what}: op {op!r} is not one of "
                + ", ".join(f"[{name!r}, {n} args]" for name, n in IMAGE_OPS.items())
            )


def _check_step(where: str, i: int, s: dict[str, Any], errors: dict[str, int]) -> dict[str, Any]:
    """The step with error names resolved to codes; raises CaseError on an unknown key/value."""
    kind = next(iter(STEP_KINDS & set(s)))
    what = f"step {i + 1} ({kind})"
    _unknown(where, what, s, {kind, *STEP_KEYS[kind]})
    if kind == "read" and isinstance(s["read"], dict):
        _unknown(where, f"{what} read", s["read"], READ_RANGE_KEYS)
    if "expect_output" in s:
        _unknown(where, f"{what} expect_output", s["expect_output"], EXPECT_OUTPUT_KEYS)
    for key in ("expect_output", "expect_image"):
        if key in s:
            _check_ops(where, f"{what} {key}", s[key].get("ops", []))
    if "expect_image" in s:
        _unknown(where, f"{what} expect_image", s["expect_image"], EXPECT_IMAGE_KEYS)
    if "expect_status" in s and s["expect_status"] not in CALL_STATUSES:
        raise CaseError(
            f"{where}: {what}: expect_status {s['expect_status']!r} is not one of "
            f"{', '.join(CALL_STATUSES)}"
        )
    if kind == "compare" and (
        not isinstance(s["compare"], list)
        or len(s["compare"]) != 3
        or s["compare"][1] not in COMPARE_OPS
    ):
        raise CaseError(
            f"{where}: {what}: compare needs [left, op, right], op one of {COMPARE_OPS}"
        )
    expect = s.get("expect")
    if isinstance(expect, str):
        if expect not in errors:
            raise CaseError(
                f"{where}: {what}: expect {expect!r} is neither an integer nor a wasi-nn error "
                f"name ({', '.join(errors)})"
            )
        s = {**s, "expect": errors[expect]}
    return s


def _parse(path: Path, raw: dict[str, Any]) -> Case:
    where = f"{path.name}: case {raw.get('id', '?')!r}"
    for key in ("id", "guest"):
        if not isinstance(raw.get(key), str):
            raise CaseError(f"{where}: field '{key}' must be a string")
    _unknown(where, "case", raw, CASE_KEYS)
    buffers = raw.get("buffer", [])
    for b in buffers:
        kinds = BUFFER_KINDS & set(b)
        if "name" not in b or len(kinds) != 1:
            raise CaseError(
                f"{where}: buffer {b.get('name')!r} needs a name and one of {sorted(BUFFER_KINDS)}"
            )
        _check_buffer(where, b)
    steps = raw.get("step", [])
    if not steps:
        raise CaseError(f"{where}: no steps")
    errors = nn_error_codes()
    for i, s in enumerate(steps):
        if len(STEP_KINDS & set(s)) != 1:
            raise CaseError(f"{where}: step {i + 1} needs exactly one of {sorted(STEP_KINDS)}")
    steps = [_check_step(where, i, s, errors) for i, s in enumerate(steps)]
    req = raw.get("requires", {})
    _unknown(where, "requires", req, REQUIRES_KEYS)
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
