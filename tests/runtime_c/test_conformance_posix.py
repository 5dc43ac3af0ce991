"""The shared conformance suite against the C runtime process, plain and under ASan+UBSan."""

from __future__ import annotations

from build_tools.conformance import suite
from build_tools.conformance.cases import load_cases
from build_tools.conformance.report import junit_xml, markdown_matrix
from build_tools.conformance.runner import Runner, SuiteResult
from build_tools.devices.posix import PosixDut
from build_tools.firmware import RuntimeImage
from build_tools.targets import Target
from tests.skips import check_case_skips


def _run(target: Target, options: dict[str, object]) -> SuiteResult:
    result: SuiteResult = suite.run_suite(target, options=options)
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert result.count("passed") > 0
    check_case_skips(result)
    return result


def test_conformance_posix(posix_target: Target, posix_runtime: RuntimeImage) -> None:
    result = _run(posix_target, {"binary": posix_runtime.binary})
    # The process reports its heap peak per case (no stack measure on POSIX): in the JSON, the
    # JUnit properties and the markdown matrix.
    rams = [c.ram_high_water for c in result.cases if c.status == "passed"]
    assert rams and all(r is not None and r > 0 for r in rams)
    assert len(set(rams)) > 1  # the peak is reset before each case
    doc = result.as_json()
    assert all("ram_high_water" in c for c in doc["cases"] if c["status"] == "passed")
    assert '<property name="ram_high_water" value="' in junit_xml(result)
    assert " KiB) |" in markdown_matrix([doc])


def test_conformance_posix_sanitized(
    posix_target: Target, posix_runtime_asan: RuntimeImage
) -> None:
    """ASan + UBSan abort the process on the first error; a leak fails its exit code."""
    dut = PosixDut(posix_target, {"binary": posix_runtime_asan.binary})
    with dut:
        result = Runner(dut, suite.target_guests(posix_target)).run(load_cases())
        stderr = dut.stderr_text()
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    check_case_skips(result)
    assert dut.exit_code == 0, stderr[-3000:]
    assert "runtime error" not in stderr and "AddressSanitizer" not in stderr
