"""Unreliable links: no request is executed twice, no response is lost, a dead link times out."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import pytest

from edge_runtime.errors import DeviceError
from edge_runtime.protocol import DeviceClient
from edge_runtime.protocol.framing import Frame, cobs_encode, encode_frame, frame_body
from edge_runtime.protocol.messages import Kind, MsgType
from tests.protocol.conftest import RunningDevice
from tests.protocol.faults import DeadStream, FaultRates, FaultyStream

TIMEOUT = 0.15


def faulty_client(
    dev: RunningDevice, seed: int, rates: FaultRates
) -> tuple[DeviceClient, FaultyStream]:
    link = FaultyStream(dev.stream, random.Random(seed), tx=rates, rx=rates, delay_s=TIMEOUT * 1.5)
    return DeviceClient(link, "flaky", timeout=TIMEOUT, retries=12), link


def test_every_call_executes_exactly_once_over_a_lossy_link(testdev: RunningDevice) -> None:
    testdev.client.put(Kind.MODULE, "g", b"g")
    inst = testdev.client.instantiate("g")
    rates = FaultRates(drop=0.06, corrupt=0.06, truncate=0.03, duplicate=0.06, delay=0.04)
    client, link = faulty_client(testdev, seed=11, rates=rates)
    # `count` returns how often it has run on this instance: any re-execution or lost answer
    # shows up as a gap or a repeat.
    got = [client.call(inst, "count").result for _ in range(60)]
    assert got == list(range(1, 61))
    assert client.retransmits > 0 and client.discarded > 0
    for kind in ("tx_drop", "rx_drop", "tx_corrupt", "rx_corrupt", "tx_duplicate", "rx_delay"):
        assert link.injected[kind] > 0, f"seed never injected {kind}: {link.injected}"
    stats = testdev.client.stats()  # over the clean link
    assert stats.duplicates > 0
    assert stats.bad_crc + stats.bad_frame > 0
    assert testdev.client.call(inst, "count").result == 61


def test_upload_over_a_lossy_link_arrives_intact(testdev: RunningDevice) -> None:
    data = random.Random(12).randbytes(20000)
    rates = FaultRates(drop=0.05, corrupt=0.05, truncate=0.03, duplicate=0.05, delay=0.02)
    client, _ = faulty_client(testdev, seed=13, rates=rates)
    progress: list[int] = []
    assert client.put(Kind.MODEL, "blob", data, progress=lambda done, total: progress.append(done))
    assert progress == sorted(progress) and progress[-1] == 20000
    (item,) = testdev.client.list()
    assert item.sha256 == hashlib.sha256(data).hexdigest()


def test_dead_link_raises_device_error_within_the_timeout() -> None:
    client = DeviceClient(DeadStream(), "qemu-rv32", timeout=0.2, retries=3)
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as e:
        client.call(1, "add", [1, 2])
    elapsed = time.monotonic() - t0
    assert str(e.value) == "device 'qemu-rv32' did not answer CALL after 3 tries (timeout 0.2 s)"
    assert 0.6 <= elapsed < 1.2


def test_link_that_drops_every_response_raises(testdev: RunningDevice) -> None:
    client, _ = faulty_client(testdev, seed=1, rates=FaultRates())
    client.stream = FaultyStream(testdev.stream, random.Random(1), rx=FaultRates(drop=1.0))
    client.retries = 2
    with pytest.raises(DeviceError, match="did not answer HELLO after 2 tries"):
        client.hello()
    stats = testdev.client.stats()
    assert stats.frames_ok == 3 and stats.duplicates == 1  # HELLO once, its retry from the cache


def test_stalled_partial_frame_is_dropped_by_the_interbyte_timeout(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    partial = encode_frame(Frame(MsgType.HELLO, 0, 900, b""))[:-4]  # no closing delimiter
    testdev.stream.write(partial)
    time.sleep(0.4)  # > PROTO_INTERBYTE_MS (200 ms)
    # A frame sent without a leading delimiter would be glued to the stale bytes, were they kept.
    body = frame_body(Frame(MsgType.STATS, 0, 901, b""))
    testdev.stream.write(cobs_encode(body) + b"\x00")
    deadline = time.monotonic() + 2.0
    buf = b""
    while b"\x00" not in buf.lstrip(b"\x00") and time.monotonic() < deadline:
        buf += testdev.stream.read(1)
    assert b"\x00" in buf.lstrip(b"\x00"), "device did not answer the frame after the stall"
    assert c.stats().timeouts == 1


def test_seq_wraps_around(testdev: RunningDevice, tmp_path: Path) -> None:
    c = testdev.client
    c._seq = 0xFFFE
    c.hello()
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    assert c._seq < 10
    assert c.call(inst, "add", [1, 2]).result == 3
