"""In CI a skip is a failure unless `tests/skip_allowlist.toml` lists it with a reason.

Applied to pytest skips by the hook in tests/conftest.py, and to conformance cases skipped
inside a suite test by `check_case_skips`. "In CI" means the CI environment variable is set
(ci/test.sh sets it).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from build_tools.conformance.runner import SuiteResult

ALLOWLIST = Path(__file__).parent / "skip_allowlist.toml"


@dataclass(frozen=True)
class AllowedSkip:
    pattern: re.Pattern[str]
    reason: str


def in_ci() -> bool:
    return os.environ.get("CI", "") not in ("", "0", "false")


def parse_allowlist(text: str, source: str = ALLOWLIST.name) -> tuple[AllowedSkip, ...]:
    entries = []
    for i, raw in enumerate(tomllib.loads(text).get("skip", [])):
        if set(raw) != {"pattern", "reason"} or not str(raw["reason"]).strip():
            raise ValueError(f"{source}: skip[{i}] needs exactly a pattern and a non-empty reason")
        entries.append(AllowedSkip(re.compile(raw["pattern"]), raw["reason"]))
    return tuple(entries)


@cache
def allowlist() -> tuple[AllowedSkip, ...]:
    return parse_allowlist(ALLOWLIST.read_text(encoding="utf-8"))


def allowed(test_id: str, reason: str, entries: tuple[AllowedSkip, ...] | None = None) -> bool:
    text = f"{test_id}: {reason}"
    return any(e.pattern.search(text) for e in (allowlist() if entries is None else entries))


def check_case_skips(result: SuiteResult) -> None:
    """In CI, fails on a skipped conformance case that the allow-list does not name."""
    if not in_ci():
        return
    bad = [
        f"{c.id}: {c.detail}"
        for c in result.cases
        if c.status == "skipped" and not allowed(c.id, c.detail)
    ]
    assert not bad, f"skipped in CI and not in {ALLOWLIST.name}:\n" + "\n".join(bad)
