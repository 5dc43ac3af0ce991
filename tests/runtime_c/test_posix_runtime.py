"""The C runtime as a process: containment, pointer checks, memory limits, the link."""

from __future__ import annotations

import struct

import pytest

from build_tools.firmware import RuntimeImage
from build_tools.targets import Target
from edge_runtime.protocol.client import DeviceClient, DeviceRequestError
from edge_runtime.protocol.messages import CallOutcome, Kind, Status
from edge_runtime.protocol.streams import ProcessStream
from tests.runtime_c.conftest import alive

INVALID_ARGUMENT = 1
NOT_FOUND = 8


def test_hello_reports_the_target(device: DeviceClient, posix_target: Target) -> None:
    info = device.hello()
    assert (info.engine, info.nn_backend, info.target) == ("wasm2c", "builtin", "posix")
    assert not info.can_load_modules  # wasm2c: code is compiled in
    assert info.can_load_models
    names = {i.name for i in device.list() if i.kind is Kind.MODULE}
    assert names == {*posix_target.guests.modules, *posix_target.guests.evp_modules}


def test_trap_does_not_kill_the_runtime(device: DeviceClient) -> None:
    inst = device.instantiate("hello")
    r = device.call(inst, "trap")
    assert r.outcome is CallOutcome.TRAPPED
    assert "unreachable" in r.message.lower()
    assert device.call(inst, "add", [2, 3]).result == 5
    assert device.call(inst, "fib", [20]).result == 6765


def test_out_of_bounds_guest_pointer_is_invalid_argument(device: DeviceClient) -> None:
    inst = device.instantiate("nn_probe")
    size = 64 * 1024  # nn_probe's initial memory: one page
    buf = device.call(inst, "alloc", [64]).result
    assert buf is not None and 0 < buf < size
    device.mem_write(inst, buf, b"person_detect")
    # name beyond the end of linear memory, and a range that wraps around 2**32
    r = device.call(inst, "nn_load_by_name", [size - 4, 13, buf + 32])
    assert r.result == INVALID_ARGUMENT
    r = device.call(inst, "nn_load_by_name", [buf, 0xFFFFFFF0, buf + 32])
    assert r.result == INVALID_ARGUMENT
    # graph_out outside memory: nothing is written, invalid_argument
    r = device.call(inst, "nn_load_by_name", [buf, 13, size])
    assert r.result == INVALID_ARGUMENT
    # the same call with good pointers works, and writes handle 1
    device.mem_write(inst, buf + 32, b"\0\0\0\0")
    assert device.call(inst, "nn_load_by_name", [buf, 13, buf + 32]).result == 0
    assert struct.unpack("<I", device.mem_read(inst, buf + 32, 4))[0] == 1
    device.mem_write(inst, buf, b"no_such_model")
    assert device.call(inst, "nn_load_by_name", [buf, 13, buf + 32]).result == NOT_FOUND


def test_host_memory_access_is_bounds_checked(device: DeviceClient) -> None:
    inst = device.instantiate("hello")
    with pytest.raises(DeviceRequestError) as e:
        device.mem_read(inst, 64 * 1024 - 2, 4)
    assert e.value.status is Status.OUT_OF_BOUNDS
    with pytest.raises(DeviceRequestError) as e:
        device.mem_write(inst, 0xFFFFFFFF, b"ab")
    assert e.value.status is Status.OUT_OF_BOUNDS


def test_memory_cap_and_accounting(device: DeviceClient, posix_target: Target) -> None:
    inst = device.instantiate("hello")
    cap_pages = posix_target.limits.instance_memory_kib // 64
    assert device.call(inst, "grow", [cap_pages]).result == -1  # 1 + cap pages > cap
    before = device.stats()
    assert device.call(inst, "grow", [2]).result == 1
    after = device.stats()
    assert after.heap_in_use >= before.heap_in_use + 2 * 65536
    assert after.ram_high_water >= after.heap_in_use
    device.drop(inst)
    assert device.stats().heap_in_use < after.heap_in_use


def test_proc_exit_and_logs(device: DeviceClient) -> None:
    inst = device.instantiate("hello")
    assert device.call(inst, "say_hello", [42]).result == len("hello from wasm 42\n")
    assert device.logs(inst) == b"hello from wasm 42\n"
    assert device.logs(inst) == b""  # drained


def test_unknown_export_and_instance(device: DeviceClient) -> None:
    inst = device.instantiate("hello")
    with pytest.raises(DeviceRequestError) as e:
        device.call(inst, "no_such_export")
    assert e.value.status is Status.NOT_FOUND
    with pytest.raises(DeviceRequestError) as e:
        device.call(inst, "add", [1])
    assert e.value.status is Status.BAD_REQUEST
    with pytest.raises(DeviceRequestError) as e:
        device.call(inst + 100, "add", [1, 2])
    assert e.value.status is Status.NOT_FOUND


def test_runtime_exits_when_the_link_closes(posix_runtime: RuntimeImage) -> None:
    stream = ProcessStream([str(posix_runtime.binary)])
    client = DeviceClient(stream, "posix")
    client.hello()
    pid = stream.pid
    stream.close(wait=5.0)
    assert stream.poll() == 0
    assert not alive(pid)


def test_image_pixels_are_heap_accounted_shared_by_views_and_freed_with_the_instance(
    device: DeviceClient,
) -> None:
    """edge_image (docs/abi.md section 7): pixels come from the accounted heap, a crop adds
    none, and every image goes when its instance is dropped (handles left alive on purpose)."""
    before_instance = device.stats().heap_in_use
    inst = device.instantiate("image_probe")
    frame = device.call(inst, "alloc", [64 * 48 * 3 + 8]).result
    assert frame
    out = frame + 64 * 48 * 3  # two handle cells after the pixels
    base = device.stats().heap_in_use
    assert device.call(inst, "img_create", [64, 48, 1, frame, 64 * 48 * 3, out]).result == 0
    created = device.stats().heap_in_use
    assert created >= base + 64 * 48 * 3
    (image,) = struct.unpack("<I", device.mem_read(inst, out, 4))
    assert device.call(inst, "img_crop", [image, 8, 8, 32, 32, out + 4]).result == 0
    assert device.stats().heap_in_use == created  # a view shares the parent's pixels
    assert device.call(inst, "img_resize", [image, 96, 96, 1, out + 4]).result == 0
    assert device.stats().heap_in_use >= created + 96 * 96 * 3
    device.drop(inst)
    assert device.stats().heap_in_use == before_instance  # the 3 live handles went too
