"""The WAMR engine on the emulated MCU: the shared conformance suite over the serial line, and
modules the firmware has never seen uploaded at run time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from build_tools.conformance.cases import Case, load_cases
from build_tools.conformance.runner import Runner
from build_tools.conformance.suite import run_suite, target_guests
from build_tools.devices.base import open_device
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.footprint import by_component
from build_tools.targets import Target, with_runtime
from tests.wamr_guests import check_bad_uploads_refused, check_witx_outputs, witx_wasm

from .conftest import require_tools

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wamr_target(qemu_target: Target) -> Target:
    return with_runtime(qemu_target, engine="wamr")


@pytest.fixture(scope="module")
def wamr_fw(wamr_target: Target):  # type: ignore[no-untyped-def]
    """The build (project build tree) every qemu-rv32 device with --engine wamr opens."""
    require_tools()
    return CMakeBuilder().build(wamr_target)


def test_wamr_firmware_holds_no_guest(wamr_fw) -> None:  # type: ignore[no-untyped-def]
    parts = by_component(wamr_fw.map_file, wamr_fw.objects, wamr_fw.sources.models, wamr_fw.binary)
    assert parts["engine"]["text"] > 0
    assert not [p for p in parts if p.startswith("guest:")]


def test_conformance_suite_on_qemu_wamr(wamr_fw, wamr_target: Target) -> None:  # type: ignore[no-untyped-def]
    result = run_suite(wamr_target, None, {"firmware": wamr_fw.binary})
    failed = [(c.id, c.detail) for c in result.cases if c.status == "failed"]
    assert not failed
    assert result.count("passed") >= 85
    for c in result.cases:  # only what exceeds the instance budget may be skipped
        if c.status == "skipped":
            assert re.match(r"does not fit: needs \d+ KiB, budget \d+ KiB", c.detail), c


GROW_CASE = "limits.memory_grow_zero_with_two_instances"


def _run_in_order(fw, target: Target, cases: list[Case]) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """The cases in this order in one firmware session: (id, status, detail) of each."""
    with open_device(target, {"firmware": fw.binary}) as dut:
        result = Runner(dut, target_guests(target)).run(cases)
    return [(c.id, c.status, c.detail) for c in result.cases]


def test_memory_grow_after_other_modules_on_qemu_wamr(wamr_fw, wamr_target: Target) -> None:  # type: ignore[no-untyped-def]
    """Four guest modules uploaded (and the unused ones evicted) before two instances' 128 KiB
    memory.grow: it used to return -1 here, the heap too fragmented for old + new block."""
    by_id = {c.id: c for c in load_cases()}
    order = [
        "engine.add",  # hello
        "infer.vww_96_int8.seed1",  # classify
        "nn.inference_raw_path",  # nn_probe
        "image.create.read_back",  # image_probe
        GROW_CASE,
    ]
    outcomes = _run_in_order(wamr_fw, wamr_target, [by_id[i] for i in order])
    assert [(i, s) for i, s, _ in outcomes] == [(i, "passed") for i in order], outcomes


def test_vww_pipeline_after_other_modules_on_qemu_wamr(wamr_fw, wamr_target: Target) -> None:  # type: ignore[no-untyped-def]
    """The suite shuffled (seed 1) failed here, reduced to these five cases: four modules cached
    and unloaded again, then a 57.6 KiB frame at 350 of the 376 KiB heap. It needs the free room
    in one block: the linear memory's room to grow used to sit above the memory, apart from the
    free space below it (two 27 KiB holes for a 27.6 KiB image)."""
    by_id = {c.id: c for c in load_cases()}
    order = [
        "nn.load_by_name.empty_name",  # nn_probe
        "image.resize.bilinear.rgb888.down",  # image_probe
        "infer.kws_ref_model.seed2",  # classify
        "legacy.set_input.type_not_fp32",  # legacy_probe
        "image.to_tensor.vww_pipeline",
    ]
    outcomes = _run_in_order(wamr_fw, wamr_target, [by_id[i] for i in order])
    assert [(i, s) for i, s, _ in outcomes] == [(i, "passed") for i in order], outcomes


def test_conformance_suite_reversed_on_qemu_wamr(wamr_fw, wamr_target: Target) -> None:  # type: ignore[no-untyped-def]
    """The suite does not depend on its order: every case file's cases in reverse, the grow
    case last, after every other guest module was uploaded and evicted."""
    cases = [c for c in reversed(load_cases()) if c.id != GROW_CASE]
    cases += [c for c in load_cases() if c.id == GROW_CASE]
    outcomes = _run_in_order(wamr_fw, wamr_target, cases)
    assert len(outcomes) == len(cases)
    assert not [o for o in outcomes if o[1] == "failed"]
    for case_id, status, detail in outcomes:  # as in the suite's own order
        if status == "skipped":
            assert re.match(r"does not fit: needs \d+ KiB, budget \d+ KiB", detail), case_id


def test_unseen_module_and_bad_uploads_on_qemu_wamr(  # type: ignore[no-untyped-def]
    wamr_fw, wamr_target: Target, tmp_path: Path
) -> None:
    """The hand-written WAT guest runs on the MCU without a firmware rebuild; a corrupt or
    forged upload is refused and the device keeps serving."""
    with open_device(wamr_target, {"firmware": wamr_fw.binary}) as dut:
        assert dut.info().can_load_code
        check_witx_outputs(dut, dut.instantiate("witx_infer", witx_wasm(tmp_path)))
        check_bad_uploads_refused(dut.client)  # type: ignore[attr-defined]
        iid = dut.instantiate("hello", target_guests(wamr_target)["hello"])
        assert dut.call(iid, "fib", [20]).value == 6765
