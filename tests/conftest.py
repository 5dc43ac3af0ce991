"""Shared fixtures: an isolated build directory and the reference data beside the project."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from build_tools.paths import shared_root
from tests.skips import ALLOWLIST, allowed, in_ci


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_unlisted_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """In CI a skip is a failure unless tests/skip_allowlist.toml lists it with a reason."""
    if not (report.skipped and in_ci()) or getattr(report, "wasxfail", None) is not None:
        return
    reason = _skip_reason(report)
    if not allowed(report.nodeid, reason):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI and not in {ALLOWLIST.name}: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None]:
    outcome = yield
    _fail_unlisted_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None]:
    outcome = yield
    _fail_unlisted_skip(outcome.get_result())


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty build tree for one test. Pass it explicitly where the code takes a build root
    (build_guests(target, build_dir)); for code that reads paths.build_root() (the command line
    run in this process, third_party) BUILD_TOOLS_BUILD_DIR is set too, for this test only. No
    fixture of a wider scope sets it: that made the build location depend on test order."""
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
