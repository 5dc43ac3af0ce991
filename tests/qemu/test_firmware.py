"""The firmware image: budgets enforced at link time, and the whole shared conformance suite on
the emulated MCU over its serial line."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from build_tools.conformance.suite import run_suite
from build_tools.devices.base import open_device
from build_tools.firmware.cmake import CMakeBuilder, build_protocol_firmware
from build_tools.footprint import by_component, image_usage
from build_tools.targets import Target
from build_tools.toolchains.riscv_gcc import FirmwareTooLarge
from edge_runtime.protocol.messages import CounterUnit
from tests.skips import check_case_skips

from .conftest import require_tools

pytestmark = pytest.mark.slow


def test_ram_overflow_is_reported_with_the_budget(qemu_target: Target, build_dir: Path) -> None:
    require_tools()
    small = dataclasses.replace(
        qemu_target, memory=dataclasses.replace(qemu_target.memory, ram_kib=8)
    )
    with pytest.raises(FirmwareTooLarge) as info:  # another configuration: its own build tree
        build_protocol_firmware(small, build_dir)
    e = info.value
    assert e.region == "ram" and e.overflow > 0
    assert str(e) == f"firmware does not fit: RAM overflowed by {e.overflow} bytes (budget 8 KiB)"


@pytest.fixture(scope="module")
def runtime_fw(qemu_target: Target):  # type: ignore[no-untyped-def]
    """The same build (project build tree) as every qemu-rv32 device of the session opens."""
    require_tools()
    return CMakeBuilder().build(qemu_target)


def test_footprint_within_budget(runtime_fw, qemu_target: Target) -> None:  # type: ignore[no-untyped-def]
    use = image_usage(runtime_fw.binary)
    assert use.static_ram + use.stack + use.heap <= qemu_target.memory.ram_kib * 1024
    assert use.flash <= qemu_target.memory.flash_kib * 1024
    parts = by_component(
        runtime_fw.map_file,
        runtime_fw.objects,
        runtime_fw.sources.models,
        runtime_fw.binary,
    )
    for model in runtime_fw.sources.models:  # models are read-only data in flash, not copied
        size = parts[f"model:{model}"]
        assert size["data"] == 0 and size["bss"] == 0 and size["rodata"] > 0
    assert {"core", "engine", "backend", "platform", "guest:hello"} <= set(parts)


def test_conformance_suite_on_qemu(runtime_fw, qemu_target: Target) -> None:  # type: ignore[no-untyped-def]
    result = run_suite(qemu_target, None, {"firmware": runtime_fw.binary})
    failed = [(c.id, c.detail) for c in result.cases if c.status == "failed"]
    assert not failed
    assert result.count("passed") >= 85
    check_case_skips(result)
    # Every model is built into the firmware; only what exceeds the budget may be skipped,
    # and the reason says by how much.
    for c in result.cases:
        if c.status == "skipped":
            assert re.match(r"does not fit: needs \d+ KiB, budget \d+ KiB", c.detail), c
        else:  # heap + stack peak of the case, measured by the firmware
            assert c.ram_high_water is not None
            assert 0 < c.ram_high_water <= qemu_target.memory.ram_kib * 1024, c


def test_run_and_stats_over_serial(runtime_fw, qemu_target: Target) -> None:  # type: ignore[no-untyped-def]
    dut = open_device(qemu_target, {"firmware": runtime_fw.binary})
    with dut:
        wasm = Path(runtime_fw.guests.directory / "hello.wasm").read_bytes()
        iid = dut.instantiate("hello", wasm)
        assert dut.call(iid, "fib", [20]).value == 6765
        assert dut.call(iid, "say_hello", [3]).status == "ok"
        assert dut.logs(iid) == b"hello from wasm 3\n"
        stats = dut.client.stats()  # type: ignore[attr-defined]
        assert 0 < stats.ram_high_water <= qemu_target.memory.ram_kib * 1024
        pid = dut.pid  # type: ignore[attr-defined]
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_stack_and_instructions_in_stats(runtime_fw, qemu_target: Target) -> None:  # type: ignore[no-untyped-def]
    """Under -icount shift=0 the instret counter and the timer agree on a call's length."""
    dut = open_device(qemu_target, {"firmware": runtime_fw.binary, "icount_shift": 0})
    with dut:
        wasm = Path(runtime_fw.guests.directory / "hello.wasm").read_bytes()
        iid = dut.instantiate("hello", wasm)
        out = dut.call(iid, "fib", [24])
        assert out.value == 46368
        stats = dut.client.stats()  # type: ignore[attr-defined]
        assert stats.counter_unit is CounterUnit.INSTRET
        instr = stats.last_call_instructions
        timer = out.elapsed_us * 1000  # 1 ns per instruction: 1000 per microsecond
        assert instr is not None and instr > 100
        assert abs(instr - timer) <= 2000 + timer // 50, (instr, timer)
        stack = stats.stack_high_water
        assert stack is not None and 0 < stack < qemu_target.memory.ram_kib * 1024
        peaks = dut.stats(reset_peaks=True)
        assert peaks is not None and peaks.stack_high_water == stack
        fresh = dut.stats()
        assert fresh is not None and fresh.stack_high_water is not None
        assert fresh.stack_high_water <= stack  # restarted from the serve loop's depth
        assert fresh.heap_high_water <= peaks.heap_high_water
