"""FRAME_BEGIN / FRAME_CHUNK / FRAME_END (docs/protocol.md): a frame streamed into the posix
runtime becomes an edge_image handle of the instance holding exactly the bytes sent; bad
sizes, formats, offsets and order are refused with a status, and every interrupted frame gives
its storage back (the heap in use returns to where it was)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from edge_runtime.protocol.client import DeviceClient, DeviceRequestError
from edge_runtime.protocol.messages import MsgType, Status, pack_frame_begin, pack_put_chunk


@pytest.fixture
def probe(device: DeviceClient) -> Iterator[tuple[DeviceClient, int, int]]:
    """image_probe and a 64-byte guest buffer."""
    assert device.info is not None and device.info.takes_frames
    inst = device.instantiate("image_probe")
    buf = device.call(inst, "alloc", [64]).result
    assert buf
    yield device, inst, buf
    device.drop(inst)


def frame_pixels(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def heap(device: DeviceClient) -> int:
    return device.stats().heap_in_use


@pytest.mark.parametrize(
    ("w", "h", "fmt", "bpp"), [(40, 30, 0, 1), (33, 17, 1, 3), (20, 9, 2, 2)]
)  # gray8, rgb888, yuv422; more than one chunk each
def test_frame_becomes_a_handle_with_those_pixels(
    probe: tuple[DeviceClient, int, int], w: int, h: int, fmt: int, bpp: int
) -> None:
    device, inst, buf = probe
    pixels = frame_pixels(w * h * bpp)
    device.max_payload = 256  # several chunks
    image = device.put_frame(inst, w, h, fmt, pixels)
    assert image > 0
    assert device.call(inst, "img_info", [image, buf]).result == 0
    assert struct.unpack("<4I", device.mem_read(inst, buf, 16)) == (w, h, fmt, len(pixels))
    out = device.call(inst, "alloc", [len(pixels)]).result
    assert device.call(inst, "img_read", [image, out, len(pixels), buf]).result == 0
    assert device.mem_read(inst, out, len(pixels)) == pixels
    assert device.call(inst, "img_drop", [image]).result == 0


@pytest.mark.parametrize(
    ("w", "h", "fmt", "message"),
    [
        (0, 10, 0, "frame 0x10 format 0"),
        (4097, 1, 0, "frame 4097x1 format 0"),
        (10, 10, 3, "frame 10x10 format 3"),
        (11, 2, 2, "frame 11x2 format 2"),  # yuv422 needs an even width
    ],
)
def test_bad_frame_sizes_and_formats(
    probe: tuple[DeviceClient, int, int], w: int, h: int, fmt: int, message: str
) -> None:
    device, inst, _ = probe
    st, body = device.request(MsgType.FRAME_BEGIN, pack_frame_begin(inst, w, h, fmt))
    assert st is Status.BAD_REQUEST and body.decode().startswith(message)


def test_order_and_offsets_are_checked(probe: tuple[DeviceClient, int, int]) -> None:
    device, inst, _ = probe
    assert device.request(MsgType.FRAME_END) == (Status.BAD_STATE, b"no frame in flight")
    st, body = device.request(MsgType.FRAME_CHUNK, pack_put_chunk(0, b"x"))
    assert (st, body) == (Status.BAD_STATE, b"no frame in flight")
    st, body = device.request(MsgType.FRAME_BEGIN, pack_frame_begin(inst + 99, 4, 4, 0))
    assert (st, body) == (Status.NOT_FOUND, f"no instance {inst + 99}".encode())
    assert device.request(MsgType.FRAME_BEGIN, pack_frame_begin(inst, 4, 4, 0)) == (
        Status.OK,
        struct.pack("<I", 16),
    )
    st, body = device.request(MsgType.FRAME_CHUNK, pack_put_chunk(4, b"abcd"))
    assert (st, body) == (Status.BAD_STATE, b"expected offset 0, got 4")
    assert device.request(MsgType.FRAME_CHUNK, pack_put_chunk(0, bytes(10)))[0] is Status.OK
    st, body = device.request(MsgType.FRAME_CHUNK, pack_put_chunk(10, bytes(7)))
    assert (st, body) == (Status.BAD_REQUEST, b"chunk goes past the frame's 16 bytes")
    st, body = device.request(MsgType.FRAME_END)
    assert (st, body) == (Status.BAD_STATE, b"only 10 of 16 bytes received")
    assert device.request(MsgType.FRAME_CHUNK, pack_put_chunk(10, bytes(6)))[0] is Status.OK
    st, body = device.request(MsgType.FRAME_END)
    assert st is Status.OK and struct.unpack("<i", body)[0] > 0
    # the frame is finished: nothing is in flight any more
    assert device.request(MsgType.FRAME_END) == (Status.BAD_STATE, b"no frame in flight")


def test_interrupted_frames_give_their_storage_back(probe: tuple[DeviceClient, int, int]) -> None:
    device, inst, _ = probe
    base = heap(device)
    size = 200 * 100

    def begin(instance: int) -> None:
        st, body = device.request(MsgType.FRAME_BEGIN, pack_frame_begin(instance, 200, 100, 0))
        assert (st, body) == (Status.OK, struct.pack("<I", size))
        assert heap(device) >= base + size  # reserved at once, in the accounted heap

    begin(inst)  # a new BEGIN frees the unfinished frame
    begin(inst)
    assert heap(device) < base + 2 * size
    device.request(MsgType.FRAME_BEGIN, pack_frame_begin(inst, 0, 0, 0))  # refused: also frees
    assert heap(device) == base
    other = device.instantiate("image_probe")  # dropping the instance frees its frame
    base_other = heap(device)
    begin_other = device.request(MsgType.FRAME_BEGIN, pack_frame_begin(other, 200, 100, 0))
    assert begin_other[0] is Status.OK
    device.drop(other)
    assert heap(device) < base_other
    assert device.request(MsgType.FRAME_END) == (Status.BAD_STATE, b"no frame in flight")
    # a handle's pixels go with the handle
    image = device.put_frame(inst, 200, 100, 0, bytes(size))
    assert heap(device) >= base + size
    assert device.call(inst, "img_drop", [image]).result == 0
    assert heap(device) == base


def test_full_handle_table_and_frames_too_large(probe: tuple[DeviceClient, int, int]) -> None:
    device, inst, _ = probe
    images = [device.put_frame(inst, 2, 2, 0, bytes(4)) for _ in range(8)]
    assert len(set(images)) == 8
    with pytest.raises(DeviceRequestError) as e:
        device.put_frame(inst, 2, 2, 0, bytes(4))
    assert e.value.status is Status.NO_SPACE
    assert "no free image handle (8 in use)" in e.value.device_message
    for image in images:
        assert device.call(inst, "img_drop", [image]).result == 0
    # 48 MiB of rgb888 in an 8 MiB budget: refused before any byte is sent
    st, body = device.request(MsgType.FRAME_BEGIN, pack_frame_begin(inst, 4096, 4096, 1))
    assert st is Status.NO_SPACE and body.startswith(b"does not fit: frame needs 50331648 bytes")
    # the device still serves
    assert device.call(inst, "alloc", [16]).result
