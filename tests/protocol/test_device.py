"""The Python client against the C test device (dispatcher + fake core) over real pipes.

Expected values are derived independently of the device: hashlib for SHA-256, Python
arithmetic for call results, the request bytes for memory round trips.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import struct
import time
from pathlib import Path

import pytest

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.client import DeviceRequestError
from edge_runtime.protocol.framing import Frame, FrameDecoder, FrameError, encode_frame
from edge_runtime.protocol.messages import CallOutcome, Kind, MsgType, Status, pack_put_begin
from tests.protocol.conftest import RunningDevice


def raw_exchange(dev: RunningDevice, frame: Frame, wait: float = 2.0) -> list[Frame]:
    """Send one hand-made frame, collect whatever frames come back within `wait`."""
    dev.stream.write(encode_frame(frame, max_payload=4096))
    dec = FrameDecoder()
    out: list[Frame] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not out:
        dev.stream.timeout = 0.05
        out += [f for f in dec.feed(dev.stream.read(4096)) if isinstance(f, Frame)]
    return out


def test_hello(testdev: RunningDevice) -> None:
    info = testdev.client.hello()
    assert info.protocol_version == 1
    assert info.max_payload == 1024
    assert (info.runtime_name, info.engine, info.target) == ("proto-testdev", "fake", "test")
    assert info.flash_bytes == 65536 and info.ram_bytes == 409600
    assert info.can_load_modules and info.can_load_models
    assert (info.modules, info.models) == (0, 0)


# Lengths around SHA-256 block and padding edges and around the chunk size (1020).
SIZES = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1019, 1020, 1021, 2040, 4097]


def test_upload_sizes_commit_and_list_with_hashlib_digest(testdev: RunningDevice) -> None:
    c = testdev.client
    rng = random.Random(3)
    blobs = {f"m{n}": rng.randbytes(n) for n in SIZES}
    for name, data in blobs.items():
        assert c.put(Kind.MODEL, name, data) is True
    listed = {i.name: i for i in c.list()}
    assert set(listed) == set(blobs)
    for name, data in blobs.items():
        assert listed[name].size == len(data)
        assert listed[name].sha256 == hashlib.sha256(data).hexdigest()
        assert listed[name].kind is Kind.MODEL
    assert c.hello().models == len(blobs)


def test_same_sha256_is_present_and_not_resent(testdev: RunningDevice) -> None:
    c = testdev.client
    data = random.Random(4).randbytes(3000)
    seen: list[tuple[int, int]] = []
    assert c.put(Kind.MODULE, "mod", data, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1020, 3000), (2040, 3000), (3000, 3000)]
    sent = c.wire_bytes_out
    seen.clear()
    assert c.put(Kind.MODULE, "mod", data, progress=lambda d, t: seen.append((d, t))) is False
    assert seen == [(3000, 3000)]
    assert c.wire_bytes_out - sent < 80  # one PUT_BEGIN, no chunks
    # New content under the same name replaces the old entry.
    assert c.put(Kind.MODULE, "mod", data[::-1]) is True
    (item,) = c.list()
    assert item.sha256 == hashlib.sha256(data[::-1]).hexdigest()


def test_upload_that_does_not_fit_is_refused_with_numbers(testdev: RunningDevice) -> None:
    c = testdev.client
    c.put(Kind.MODEL, "small", bytes(1000))
    with pytest.raises(DeviceRequestError) as e:
        c.put(Kind.MODEL, "big", bytes(70000))
    assert e.value.status is Status.NO_SPACE
    assert e.value.device_message == "does not fit: needs 70000 bytes, 64536 free"
    assert str(e.value) == (
        "device 'testdev': PUT_BEGIN failed (NO_SPACE): does not fit: needs 70000 bytes, 64536 free"
    )


def test_wrong_sha256_is_rejected_and_not_committed(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    data = b"\x01\x02\x03" * 100
    begin = pack_put_begin(Kind.MODULE, "bad", len(data), hashlib.sha256(b"other").digest())
    assert c.request(MsgType.PUT_BEGIN, begin)[0] is Status.OK
    assert c.request(MsgType.PUT_CHUNK, struct.pack("<I", 0) + data) == (
        Status.OK,
        struct.pack("<I", 300),
    )
    status, body = c.request(MsgType.PUT_END)
    assert status is Status.HASH_MISMATCH
    assert body == b"sha256 of the received bytes does not match"
    assert c.list() == []


def test_out_of_order_chunks(testdev: RunningDevice) -> None:
    c = testdev.client
    assert c.request(MsgType.PUT_CHUNK, struct.pack("<I", 0) + b"x") == (
        Status.BAD_STATE,
        b"no upload in progress",
    )
    begin = pack_put_begin(Kind.MODULE, "m", 10, hashlib.sha256(bytes(10)).digest())
    assert c.request(MsgType.PUT_BEGIN, begin)[0] is Status.OK
    assert c.request(MsgType.PUT_CHUNK, struct.pack("<I", 5) + bytes(5)) == (
        Status.BAD_STATE,
        b"expected offset 0, got 5",
    )
    assert c.request(MsgType.PUT_CHUNK, struct.pack("<I", 0) + bytes(11)) == (
        Status.BAD_REQUEST,
        b"chunk goes past the announced size of 10 bytes",
    )
    assert c.request(MsgType.PUT_END) == (Status.BAD_STATE, b"only 0 of 10 bytes received")


def test_list_pages_when_entries_exceed_one_payload(testdev: RunningDevice) -> None:
    c = testdev.client
    names = [f"{i:02d}" + "n" * 62 for i in range(16)]  # 102-byte entries: 10 per page
    for name in names:
        c.put(Kind.MODEL, name, name.encode())
    assert [i.name for i in c.list()] == names


def test_instances_calls_and_outcomes(testdev: RunningDevice) -> None:
    c = testdev.client
    data = b"\x00asm\x01\x00\x00\x00"
    c.put(Kind.MODULE, "guest", data)
    a = c.instantiate("guest")
    b = c.instantiate(hashlib.sha256(data).hexdigest())
    assert a != b and 0 not in (a, b)
    r = c.call(a, "add", [2, 40])
    assert (r.outcome, r.result, r.message) == (CallOutcome.RETURNED, 42, "")
    assert c.call(a, "add", [0x7FFFFFFF, 1]).result == -(2**31)  # i32 wraps
    assert c.call(a, "add", [-5, 3]).result == -2
    assert c.call(a, "nop").result is None
    trap = c.call(a, "trap")
    assert (trap.outcome, trap.result, trap.message) == (
        CallOutcome.TRAPPED,
        None,
        "unreachable executed",
    )
    ex = c.call(b, "exit", [3])
    assert (ex.outcome, ex.value, ex.message) == (CallOutcome.EXITED, 3, "exited with code 3")
    assert [c.call(a, "count").result for _ in range(3)] == [1, 2, 3]
    assert c.call(b, "count").result == 1  # per-instance state
    with pytest.raises(DeviceRequestError, match=r"CALL failed \(NOT_FOUND\): no export 'nope'"):
        c.call(a, "nope")
    c.drop(a)
    with pytest.raises(DeviceRequestError, match=rf"no instance {a}"):
        c.call(a, "add", [1, 2])
    with pytest.raises(DeviceRequestError, match=r"INSTANTIATE failed \(NOT_FOUND\): no module x"):
        c.instantiate("x")


def test_model_is_not_instantiable(testdev: RunningDevice) -> None:
    c = testdev.client
    c.put(Kind.MODEL, "net", b"TFL3")
    with pytest.raises(DeviceRequestError, match="no module net"):
        c.instantiate("net")


def test_memory_round_trip_and_bounds(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    data = random.Random(5).randbytes(5000)  # several MEM_WRITE / MEM_READ frames
    c.mem_write(inst, 1000, data)
    assert c.mem_read(inst, 1000, 5000) == data
    assert c.call(inst, "sum_mem", [1000, 5000]).result == sum(data)
    assert c.call(inst, "echo_mem", [1000, 9000, 100]).result == 100
    assert c.mem_read(inst, 9000, 100) == data[:100]
    for addr, n in [(16384 - 3, 4), (0xFFFFFFFF, 2), (16384, 1)]:
        with pytest.raises(DeviceRequestError) as e:
            c.mem_read(inst, addr, n)
        assert e.value.status is Status.OUT_OF_BOUNDS
        assert e.value.device_message == f"{n} bytes at {addr:#x} outside 16384 bytes of memory"
    with pytest.raises(DeviceRequestError, match="OUT_OF_BOUNDS"):
        c.mem_write(inst, 16380, b"12345")
    assert c.mem_read(inst, 16380, 4) == bytes(4)  # nothing was written
    trap = c.call(inst, "sum_mem", [0xFFFFFFF0, 0x20])
    assert trap.outcome is CallOutcome.TRAPPED


def test_logs_drain_over_several_frames(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    text = bytes(random.Random(6).choice(b"abcdef\n") for _ in range(3000))
    c.mem_write(inst, 0, text)
    assert c.call(inst, "print", [0, 3000]).result == 3000
    assert c.logs(inst) == text
    assert c.logs(inst) == b""


def test_stats_count_bad_frames_and_calls(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    good = encode_frame(Frame(MsgType.HELLO, 0, 1, b""))
    bad_crc = bytearray(good)
    bad_crc[-2] ^= 0x01  # a CRC byte (the Python decoder confirms it is not a COBS code)
    assert FrameDecoder().feed(bytes(bad_crc)) == [FrameError.BAD_CRC]
    testdev.stream.write(bytes(bad_crc) + b"\x00\x03\x01\x00" + b"\x00garbage\x00")
    s = c.stats()
    assert (s.bad_crc, s.bad_frame) == (1, 2)
    assert s.frames_ok == 2  # HELLO, STATS
    assert s.heap_in_use == 0
    c.put(Kind.MODULE, "g", b"g")
    c.instantiate("g")
    assert c.stats().heap_in_use > 16384


def test_protocol_level_errors(testdev: RunningDevice) -> None:
    c = testdev.client
    assert c.request(MsgType.HELLO, b"\x00") == (Status.BAD_REQUEST, b"malformed payload")
    assert c.request(MsgType.LIST) == (Status.BAD_REQUEST, b"malformed payload")
    assert c.request(MsgType.CALL, b"\x01\x00\x00\x00\x09\x03add") == (
        Status.BAD_REQUEST,
        b"malformed payload",
    )
    (resp,) = raw_exchange(testdev, Frame(0x7E, 0, 500, b""))
    assert (resp.type, resp.seq, resp.is_response) == (0x7E, 500, True)
    assert resp.payload == struct.pack("<H", Status.UNKNOWN_TYPE) + b"unknown message type 0x7e"
    (resp,) = raw_exchange(testdev, Frame(MsgType.HELLO, 0, 501, b"", version=2))
    assert resp.version == 1
    assert resp.payload[2:] == b"protocol version 2 not supported (device speaks 1)"
    assert raw_exchange(testdev, Frame(MsgType.HELLO, 1, 502, b""), wait=0.3) == []


def test_reset_drops_instances_keeps_storage(testdev: RunningDevice) -> None:
    c = testdev.client
    c.put(Kind.MODULE, "g", b"g")
    inst = c.instantiate("g")
    c.reset()
    with pytest.raises(DeviceRequestError, match="NOT_FOUND"):
        c.call(inst, "add", [1, 1])
    assert [i.name for i in c.list()] == ["g"]


def test_closed_link_is_a_device_error(testdev: RunningDevice) -> None:
    c = testdev.client
    c.hello()
    testdev.stream.close()
    with pytest.raises(DeviceError, match="device 'testdev': sending HELLO failed: stream to pid"):
        c.hello()


def test_dead_process_is_a_device_error(testdev_binary: Path, tmp_path: Path) -> None:
    dev = RunningDevice(testdev_binary, tmp_path / "stderr.log")
    try:
        dev.client.timeout = 0.2
        dev.client.hello()
        os.kill(dev.stream.pid, signal.SIGKILL)
        while dev.stream.poll() is None:
            time.sleep(0.01)
        with pytest.raises(DeviceError, match="device 'testdev'"):
            dev.client.hello()
    finally:
        dev.stream.close()
    assert dev.stream.poll() == -signal.SIGKILL
