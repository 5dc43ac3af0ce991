"""The device protocol over an emulated serial line with injected faults: corruption, drops,
duplication and delays are recovered without losing or repeating a result; a dead link ends
in a timeout naming the device. Runs the protocol firmware (dispatcher + the protocol's fake
core) on QEMU, so it does not depend on the wasm engine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.devices.faults import FaultPlan, FaultProxy
from build_tools.devices.qemu_session import QemuSession
from build_tools.firmware.cmake import Firmware
from edge_runtime.errors import DeviceError
from edge_runtime.protocol import DeviceClient
from edge_runtime.protocol.messages import CallOutcome, Kind

pytestmark = pytest.mark.slow


@pytest.fixture
def session(protocol_firmware: Firmware, tmp_path: Path) -> Iterator[QemuSession]:
    with QemuSession(protocol_firmware.elf, "qemu-rv32", tmp_path / "qemu.log", connect=False) as s:
        yield s


def _client(session: QemuSession, url: str, timeout: float = 0.5) -> DeviceClient:
    stream = session.open_stream(url)
    return DeviceClient(stream, "qemu-rv32", timeout=timeout, retries=8)


def test_clean_link_round_trip(session: QemuSession) -> None:
    client = _client(session, session.url)
    info = client.hello()
    assert info.max_payload == 1024
    client.put(Kind.MODULE, "m", b"\x01" * 3000)
    inst = client.instantiate("m")
    assert client.call(inst, "add", [40, 2]).value == 42
    stats = client.stats()
    assert stats.bad_crc == 0 and stats.duplicates == 0
    client.stream.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_faulty_link_recovers_exactly_once(session: QemuSession, seed: int) -> None:
    plan = FaultPlan(
        corrupt=0.03, drop=0.03, duplicate=0.03, delay=0.05, max_delay_s=0.03, max_faults=24,
        seed=seed,
    )  # fmt: skip
    with FaultProxy(session.port, plan) as proxy:
        client = _client(session, proxy.url)
        client.hello()
        blob = bytes((i * 7 + seed) & 0xFF for i in range(12_000))
        assert client.put(Kind.MODULE, "blob", blob)  # PUT_END verified the sha256 on the device
        items = {i.name: i for i in client.list()}
        assert items["blob"].sha256 == hashlib.sha256(blob).hexdigest()
        inst = client.instantiate("blob")
        for i in range(1, 26):
            res = client.call(inst, "add", [i, 1000])
            assert res.outcome is CallOutcome.RETURNED and res.value == i + 1000
            # count() increments a counter on the device per execution: a retransmitted or
            # duplicated request executed twice would skip a number, a lost one repeat it.
            assert client.call(inst, "count", []).value == i
        stats = client.stats()
        client.stream.close()
    to_dev, to_host = proxy.to_device.counts, proxy.to_host.counts
    injected = to_dev.faults + to_host.faults
    assert injected >= 12, (to_dev, to_host)
    assert to_dev.corrupted + to_host.corrupted > 0
    assert to_dev.dropped + to_host.dropped > 0
    assert to_dev.duplicated + to_host.duplicated > 0
    # The device saw damaged and repeated frames, and the host had to retransmit.
    assert stats.bad_crc + stats.bad_frame + stats.timeouts > 0
    assert client.retransmits > 0


def test_dead_link_times_out_naming_the_device(session: QemuSession) -> None:
    with FaultProxy(session.port) as proxy:
        client = DeviceClient(session.open_stream(proxy.url), "qemu-rv32", timeout=0.3, retries=2)
        client.hello()
        proxy.stop_forwarding()
        with pytest.raises(
            DeviceError, match=r"device 'qemu-rv32' did not answer STATS after 2 tries"
        ):
            client.stats()
        client.stream.close()


def test_session_cleans_up_on_keyboard_interrupt(
    protocol_firmware: Firmware, tmp_path: Path
) -> None:
    pid = None
    with (
        pytest.raises(KeyboardInterrupt),
        QemuSession(protocol_firmware.elf, "qemu-rv32", tmp_path / "q.log") as s,
    ):
        pid = s.pid
        assert pid is not None and Path(f"/proc/{pid}").exists()
        raise KeyboardInterrupt
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists()


def test_missing_firmware_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="no firmware at"):
        QemuSession(tmp_path / "none.elf", "qemu-rv32", tmp_path / "q.log").start()
