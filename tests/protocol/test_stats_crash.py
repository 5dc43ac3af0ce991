"""Extended STATS (stack high-water, counter, peak reset) and crash reports, against the C test
device (dispatcher + fake core) over real pipes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from build_tools.devices.posix import PosixDut
from build_tools.targets import load_target
from edge_runtime.errors import DeviceError
from edge_runtime.protocol.client import DeviceClient, last_printed_line
from edge_runtime.protocol.messages import (
    CounterUnit,
    Kind,
    MsgType,
    Status,
    unpack_stats,
)
from tests.protocol.conftest import RunningDevice

V1 = struct.pack("<9I", 100, 50, 7, 3, 0, 0, 0, 0, 1234)


def test_unpack_stats_version_1_and_extended() -> None:
    s = unpack_stats(V1)
    assert (s.ram_high_water, s.uptime_ms, s.stack_high_water, s.counter_unit) == (
        100,
        1234,
        None,
        None,
    )
    ext = V1 + struct.pack("<IBQQ", 2048, 1, 10**12, 123456)
    s = unpack_stats(ext + b"future fields")  # later additions are ignored
    assert s.stack_high_water == 2048 and s.counter_unit is CounterUnit.INSTRET
    assert s.counter == 10**12 and s.last_call_instructions == 123456
    s = unpack_stats(V1 + struct.pack("<IBQQ", 0, 2, 5, 6))
    assert s.stack_high_water is None  # 0: not measured
    assert s.last_call_counter == 6 and s.last_call_instructions is None  # nanoseconds


def test_stats_falls_back_for_devices_without_flags(
    testdev: RunningDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = testdev.client
    c.hello()
    sent: list[bytes] = []
    real = DeviceClient.request

    def old_device(self, mtype, payload=b"", *, timeout=None):  # type: ignore[no-untyped-def]
        sent.append(payload)
        if mtype is MsgType.STATS and payload:
            return Status.BAD_REQUEST, b"malformed payload"
        return real(self, mtype, payload, timeout=timeout)

    monkeypatch.setattr(DeviceClient, "request", old_device)
    assert c.stats().stack_high_water is None
    assert c.stats().counter_unit is None
    assert sent == [b"\x01", b"", b""]  # asks with flags once, then only the old way


def test_stats_extended_and_peak_reset(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    status, body = c.request(MsgType.STATS)  # empty request: the version-1 body
    assert status is Status.OK and len(body) == 36
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    s = c.stats()
    assert s.counter_unit is CounterUnit.NONE and s.stack_high_water is None
    peak = s.ram_high_water
    assert peak > 16384
    c.drop(inst)
    assert c.stats(reset_peaks=True).ram_high_water == peak  # read, then reset
    after = c.stats()
    assert after.ram_high_water == after.heap_in_use < peak


def crashing_dut(binary: Path) -> PosixDut:
    dut = PosixDut(load_target("posix"), {"binary": binary, "build": False})
    dut.open()
    return dut


@pytest.mark.parametrize(("how", "signal_name"), [(0, "SIGILL"), (1, "SIGABRT")])
def test_crash_names_signal_and_last_stderr_line(
    testdev_binary: Path, how: int, signal_name: str
) -> None:
    dut = crashing_dut(testdev_binary)
    try:
        iid = dut.instantiate("g", b"g")
        assert dut.call(iid, "add", [1, 2]).value == 3
        with pytest.raises(DeviceError) as info:
            dut.call(iid, "crash", [how])
        text = str(info.value)
        assert text.startswith("device 'posix' crashed during CALL: "), text
        assert "proto_testdev: crashing on request" in text or "Sanitizer" in text, text
        assert signal_name in text or "exit code" in text, text
    finally:
        dut.close()
    assert dut.exit_code not in (0, None)


def test_hung_link_is_not_called_a_crash(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    c.crash_probe = lambda client: None  # the process runs: the probe finds no crash
    c.retries, c.timeout = 1, 0.2
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    with pytest.raises(DeviceError, match="did not answer CALL"):
        c.call(inst, "sleep_ms", [600])


def test_last_printed_line() -> None:
    frame_then_text = b"\x00\x05W\x01\x02\x00\x00\nqemu-rv32: fatal trap mcause=0x3\n"
    assert last_printed_line(frame_then_text) == "qemu-rv32: fatal trap mcause=0x3"
    assert last_printed_line(b"\x00\x03\x01\x00") is None
