"""The Pi host's edge_image (runtime_py/edge_runtime/host/image.py) against the independent reference of
docs/abi.md section 7 (build_tools/conformance/image_ref.py), and the reference against values
worked out by hand from the document's formulas. The conformance cases run the same ABI on every
runtime; these reach sizes and op chains the cases do not."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from build_tools.conformance import image_ref
from edge_runtime.host.image import EdgeImage
from edge_runtime.host.memory import GuestMemory
from edge_runtime.host.wasi_nn import NnError

OUT = 0  # handle out-pointer
WRITTEN = 4
SRC = 64
DST = 200_000


class _NoNn:
    """to_tensor is covered by the conformance cases (real wasi-nn contexts)."""


def _runtime(budget: int = 1 << 22) -> tuple[EdgeImage, GuestMemory]:
    return EdgeImage(_NoNn(), budget), GuestMemory(np.zeros(400_000, np.uint8))  # type: ignore[arg-type]


def _create(img: EdgeImage, mem: GuestMemory, ref: image_ref.RefImage) -> int:
    mem.write(SRC, ref.data)
    code = img.create(mem, ref.width, ref.height, ref.format, SRC, len(ref.data), OUT)
    assert code == NnError.SUCCESS, img.last_error
    return mem.u32(OUT)


def _apply(img: EdgeImage, mem: GuestMemory, handle: int, op: list[object]) -> int:
    name, *args = op
    if name == "crop":
        code = img.crop(mem, handle, *args, OUT)  # type: ignore[arg-type]
    elif name == "resize":
        w, h, mode = args
        code = img.resize(mem, handle, w, h, 0 if mode == "nearest" else 1, OUT)  # type: ignore[arg-type]
    elif name == "rotate":
        code = img.rotate(mem, handle, args[0], OUT)  # type: ignore[arg-type]
    else:
        code = img.convert(mem, handle, image_ref.FORMATS[args[0]], OUT)  # type: ignore[index]
    assert code == NnError.SUCCESS, img.last_error
    return mem.u32(OUT)


def _read(img: EdgeImage, mem: GuestMemory, handle: int) -> bytes:
    assert img.read(mem, handle, DST, 190_000, WRITTEN) == NnError.SUCCESS, img.last_error
    return mem.view(DST, mem.u32(WRITTEN)).tobytes()


def _chains(rng: np.random.Generator) -> list[tuple[str, int, int, list[list[object]]]]:
    chains = []
    for _ in range(24):
        fmt = str(rng.choice(["gray8", "rgb888"]))
        w, h = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cw, ch = int(rng.integers(1, w - x + 1)), int(rng.integers(1, h - y + 1))
        mode = str(rng.choice(["nearest", "bilinear"]))
        ops: list[list[object]] = [
            ["crop", x, y, cw, ch],
            ["rotate", int(rng.integers(0, 4))],
            ["resize", int(rng.integers(1, 50)), int(rng.integers(1, 50)), mode],
            ["convert", str(rng.choice(["gray8", "rgb888", "yuv422"]))],
        ]
        if ops[-1][1] == "yuv422":
            ops[2][1] = 2 * int(rng.integers(1, 25))  # yuv422 needs an even width
        chains.append((fmt, w, h, ops))
    return chains


@pytest.mark.parametrize(
    ("fmt", "w", "h", "ops"), _chains(np.random.default_rng(7)), ids=lambda v: str(v)
)
def test_host_pixels_equal_the_reference(fmt: str, w: int, h: int, ops: list[list[object]]) -> None:
    img, mem = _runtime()
    ref = image_ref.RefImage(
        w, h, image_ref.FORMATS[fmt], image_ref.random_pixels(w, h, image_ref.FORMATS[fmt], w * h)
    )
    handle = _create(img, mem, ref)
    for op in ops:
        handle = _apply(img, mem, handle, op)
    assert _read(img, mem, handle) == image_ref.apply(ref, ops).data


@pytest.mark.parametrize("src", ["rgb888", "yuv422", "gray8"])
@pytest.mark.parametrize("dst", ["rgb888", "yuv422", "gray8"])
def test_conversions_of_every_byte_value(src: str, dst: str) -> None:
    """Every byte value in every position: the clamps and floor divisions at their edges."""
    img, mem = _runtime()
    n = image_ref.BPP[image_ref.FORMATS[src]]
    data = bytes((np.arange(256 * 12) * 7 % 256).astype(np.uint8))[: (256 * 12 // (2 * n)) * 2 * n]
    ref = image_ref.RefImage(len(data) // n, 1, image_ref.FORMATS[src], data)
    handle = _apply(img, mem, _create(img, mem, ref), ["convert", dst])
    assert _read(img, mem, handle) == image_ref.apply(ref, [["convert", dst]]).data


def test_reference_follows_the_document_by_hand() -> None:
    row = image_ref.RefImage(2, 1, 0, bytes([0, 255]))
    # p = (2i+1)*2*128/4 - 128 -> -64 (clamped 0), 64, 192, 320: weights 0, 64/256, 192/256, hi
    assert image_ref.resize_bilinear(row, 4, 1).data == bytes([0, 64, 191, 255])
    four = image_ref.RefImage(4, 1, 0, bytes([10, 20, 30, 40]))
    assert image_ref.resize_nearest(four, 2, 1).data == bytes([20, 40])  # columns 1 and 3
    grid = image_ref.RefImage(3, 2, 0, bytes([1, 2, 3, 4, 5, 6]))  # rows 1 2 3 / 4 5 6
    assert image_ref.rotate(grid, 1).data == bytes([4, 1, 5, 2, 6, 3])  # clockwise
    assert image_ref.rotate(grid, 3).data == bytes([3, 6, 2, 5, 1, 4])
    red = image_ref.RefImage(2, 1, 1, bytes([255, 0, 0, 255, 0, 0]))
    # Y = (77*255 + 128) >> 8 = 77, U = (32896 - 43*255) >> 8 = 85, V = 65536 >> 8 -> 255
    assert image_ref.convert(red, 2).data == bytes([77, 85, 77, 255])
    # Back: E = 127, D = -43: R = 77 + 178 = 255, G = 77 - (-3784 + 23241 + 128) // 256 = 1,
    # B = 77 + (-19522 + 128) // 256 = 77 - 76 = 1
    assert image_ref.convert(image_ref.convert(red, 2), 1).data == bytes([255, 1, 1] * 2)


def test_views_share_pixels_and_the_budget_counts_owners() -> None:
    img, mem = _runtime(budget=1000)
    ref = image_ref.RefImage(20, 20, 0, bytes(range(200)) * 2)
    parent = _create(img, mem, ref)
    view = _apply(img, mem, parent, ["crop", 5, 5, 10, 10])
    assert img.in_use == 400
    assert img.drop(mem, parent) == NnError.SUCCESS
    assert img.in_use == 400  # the view keeps the pixels
    assert _read(img, mem, view) == image_ref.crop(ref, 5, 5, 10, 10).data
    code = img.resize(mem, view, 30, 30, 0, OUT)  # 900 more bytes than the 600 left
    assert code == NnError.TOO_LARGE and "900 bytes of pixels do not fit" in img.last_error
    assert img.drop(mem, view) == NnError.SUCCESS and img.in_use == 0
    assert img.drop(mem, view) == NnError.INVALID_ARGUMENT


def test_create_does_not_alias_guest_memory() -> None:
    img, mem = _runtime()
    handle = _create(img, mem, image_ref.RefImage(2, 2, 0, bytes([1, 2, 3, 4])))
    mem.write(SRC, bytes(4))  # the guest reuses its buffer
    assert _read(img, mem, handle) == bytes([1, 2, 3, 4])


def test_bad_pointers_and_info() -> None:
    img, mem = _runtime()
    assert img.create(mem, 2, 2, 0, mem.size - 2, 4, OUT) == NnError.INVALID_ARGUMENT
    assert "outside" in img.last_error
    handle = _create(img, mem, image_ref.RefImage(4, 3, 1, bytes(36)))
    assert img.info(mem, handle, mem.size - 15) == NnError.INVALID_ARGUMENT
    assert img.info(mem, handle, 100) == NnError.SUCCESS
    assert struct.unpack("<4I", mem.view(100, 16).tobytes()) == (4, 3, 1, 36)


def test_put_frame_takes_pixels_from_the_embedding() -> None:
    img, mem = _runtime(budget=90)
    frame = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    handle = img.put_frame(frame, 1)
    frame[:] = 0  # the camera reuses its buffer
    assert _read(img, mem, handle) == bytes(range(48)) and img.in_use == 48
    with pytest.raises(ValueError, match="48 bytes of pixels do not fit"):
        img.put_frame(np.zeros((4, 12), np.uint8), 1)
    with pytest.raises(ValueError, match="yuv422 needs an even width"):
        img.put_frame(np.zeros((2, 6), np.uint8), 2)
