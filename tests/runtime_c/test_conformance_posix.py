"""The shared conformance suite against the C runtime process, plain and under ASan+UBSan."""

from __future__ import annotations

import pytest

from build_tools.runtime_c import RuntimeBuild
from build_tools.targets import Target

suite = pytest.importorskip("build_tools.conformance.suite", reason="conformance suite not present")

from build_tools.conformance.cases import load_cases  # noqa: E402
from build_tools.conformance.runner import Runner  # noqa: E402
from build_tools.devices.posix import PosixDut  # noqa: E402


def _run(target: Target, options: dict[str, object]) -> None:
    result = suite.run_suite(target, options=options)
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert result.count("passed") > 0


def test_conformance_posix(posix_target: Target, posix_runtime: RuntimeBuild) -> None:
    _run(posix_target, {"binary": posix_runtime.binary})


def test_conformance_posix_sanitized(
    posix_target: Target, posix_runtime_asan: RuntimeBuild
) -> None:
    """ASan + UBSan abort the process on the first error; a leak fails its exit code."""
    dut = PosixDut(posix_target, {"binary": posix_runtime_asan.binary})
    with dut:
        result = Runner(dut, suite.target_guests(posix_target)).run(load_cases())
        stderr = dut.stderr_text()
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert dut.exit_code == 0, stderr[-3000:]
    assert "runtime error" not in stderr and "AddressSanitizer" not in stderr
