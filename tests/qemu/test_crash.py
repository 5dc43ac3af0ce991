"""A crashing firmware is reported with its cause: the line it printed and QEMU's exit status.

The protocol firmware (test-only: the dispatcher with the fake core) has a `crash` export that
raises a CPU fault (ebreak: the fatal trap handler, exit 3) or calls abort() (exit 128 + 6).
The runtime firmware has no such path."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_tools.devices.qemu import QemuDut
from build_tools.firmware.cmake import Firmware
from build_tools.targets import Target
from edge_runtime.errors import DeviceError


@pytest.mark.parametrize(
    ("how", "printed", "code"),
    [
        (0, "qemu-rv32: fatal trap mcause=0x00000003", "(fatal CPU trap in firmware, exit 3)"),
        (1, "qemu-rv32: abort (signal 6)", "(firmware aborted (signal 6), exit 134)"),
    ],
)
def test_crash_is_reported_with_its_cause(
    protocol_firmware: Firmware,
    qemu_target: Target,
    tmp_path: Path,
    how: int,
    printed: str,
    code: str,
) -> None:
    dut = QemuDut(
        qemu_target,
        {"firmware": protocol_firmware.elf, "build": False, "log": tmp_path / "qemu.log"},
    )
    with dut:
        iid = dut.instantiate("g", b"g")
        assert dut.call(iid, "add", [2, 3]).value == 5
        with pytest.raises(DeviceError) as info:
            dut.call(iid, "crash", [how])
        text = str(info.value)
        assert text.startswith("device 'qemu-rv32' crashed during CALL: " + printed), text
        assert text.endswith(code), text
        assert dut.check_alive() is not None


def test_stats_from_the_protocol_firmware(
    protocol_firmware: Firmware, qemu_target: Target, tmp_path: Path
) -> None:
    dut = QemuDut(
        qemu_target,
        {"firmware": protocol_firmware.elf, "build": False, "log": tmp_path / "qemu.log"},
    )
    with dut:
        stats = dut.stats(reset_peaks=True)
        assert stats is not None and stats.stack_high_water is None  # the fake core
