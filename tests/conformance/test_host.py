"""The shared conformance suite on the Python host: one pytest test per case (from the data)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from build_tools.conformance.cases import Case, load_cases
from build_tools.conformance.runner import Runner
from build_tools.conformance.suite import target_guests
from build_tools.devices.base import open_device
from build_tools.paths import shared_root
from build_tools.targets import load_target

CASES = load_cases()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    if not (shared_root() / "models").is_dir():
        pytest.skip("reference data models/ not found beside the project (../shared/models)")
    target = load_target("host")
    # 1 s instead of the target's 10 s keeps the endless-loop case fast; the limit is the same code.
    with open_device(target, {"timeout_ms": 1000}) as dut:
        yield Runner(dut, target_guests(target))


def test_suite_has_the_promised_coverage() -> None:
    ids = {c.id for c in CASES}
    assert len(CASES) >= 50
    for prefix in (
        "nn.load.",
        "nn.load_by_name.",
        "nn.load_with_config.",
        "nn.init.",
        "nn.set_input.",
        "nn.compute.",
        "nn.get_output.",
        "f32.",
        "limits.",
        "wasi.",
    ):
        assert any(i.startswith(prefix) for i in ids), prefix
    models = {m for c in CASES if c.id.startswith("infer.") for m in c.models}
    shared = {p.stem for p in (shared_root() / "models").glob("*.tflite")}
    assert shared <= models, f"models without an inference case: {shared - models}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(runner: Runner, case: Case) -> None:
    result = runner.run_case(case)
    if result.status == "skipped":
        pytest.skip(result.detail)
    assert result.status == "passed", result.detail
