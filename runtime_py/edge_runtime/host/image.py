"""`edge_image` (docs/abi.md section 7) for one guest instance: image handles over numpy arrays.

Images are 2-D uint8 arrays of packed rows (height x width*bytes-per-pixel). `crop` and the
no-op forms of `rotate`/`convert` are numpy views sharing the parent's pixels; every other
operation makes a new array. The arithmetic is the integer arithmetic the document specifies,
so the C runtime (runtime_c/core/rt_image.c) gives the same pixels. Every entry point returns a
wasi-nn error code; nothing raises into the engine.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .memory import GuestMemory, OutOfBounds
from .wasi_nn import NnError, NnFailure, WasiNn

log = logging.getLogger(__name__)

GRAY8, RGB888, YUV422 = 0, 1, 2
BYTES_PER_PIXEL = {GRAY8: 1, RGB888: 3, YUV422: 2}
CHANNELS = {GRAY8: 1, RGB888: 3}  # formats a model input can take
NEAREST, BILINEAR = 0, 1
NHWC, NCHW = 0, 1
MAX_SIDE = 4096
MAX_IMAGES = 8  # per instance, views included (docs/abi.md: exactly 8)
INFO_SIZE = 16


class _Failure(Exception):
    def __init__(self, code: NnError, message: str) -> None:
        super().__init__(message)
        self.code = code


def _bad(message: str) -> _Failure:
    return _Failure(NnError.INVALID_ARGUMENT, message)


@dataclass
class _Pixels:
    """Pixels owned by one or more handles (a parent and its views)."""

    nbytes: int
    refs: int = 0


@dataclass
class _Image:
    rows: np.ndarray  # (height, width * bpp) uint8, possibly a strided view
    format: int
    owner: _Pixels

    @property
    def height(self) -> int:
        return int(self.rows.shape[0])

    @property
    def width(self) -> int:
        return int(self.rows.shape[1]) // BYTES_PER_PIXEL[self.format]

    def pixels(self) -> np.ndarray:
        """(height, width, channels) for gray8/rgb888."""
        return self.rows.reshape(self.height, self.width, BYTES_PER_PIXEL[self.format])


class EdgeImage:
    """The image handles of one instance; pixels counted against `budget_bytes`."""

    def __init__(self, nn: WasiNn, budget_bytes: int, max_images: int = MAX_IMAGES) -> None:
        self.nn = nn
        self.budget = budget_bytes
        self.max_images = max_images
        self.images: dict[int, _Image] = {}
        self.in_use = 0  # bytes of pixels held (views add nothing)
        self._next = 1
        self.last_error = ""

    # -- entry points: (memory, i32 args...) -> error code --------------------------------

    def create(
        self,
        mem: GuestMemory,
        width: int,
        height: int,
        format: int,
        src_ptr: int,
        src_len: int,
        image_out_ptr: int,
    ) -> int:
        def run() -> None:
            _check_size(width, height, format)
            size = width * height * BYTES_PER_PIXEL[format]
            if src_len != size:
                raise _bad(f"create: {src_len} bytes given, a {width}x{height} image has {size}")
            src = mem.view(src_ptr, src_len)
            mem.check(image_out_ptr, 4)
            rows = src.reshape(height, -1)
            self._add(mem, image_out_ptr, rows.copy, size, format)

        return self._guard("create", run)

    def crop(
        self,
        mem: GuestMemory,
        image: int,
        x: int,
        y: int,
        width: int,
        height: int,
        image_out_ptr: int,
    ) -> int:
        def run() -> None:
            img = self._image(image, "crop")
            mem.check(image_out_ptr, 4)
            if not (
                width > 0 and height > 0 and x + width <= img.width and y + height <= img.height
            ):
                raise _bad(f"crop: {width}x{height}+{x}+{y} is not inside {img.width}x{img.height}")
            if img.format == YUV422 and (x % 2 or width % 2):
                raise _bad("crop: a yuv422 rectangle needs an even x and width")
            bpp = BYTES_PER_PIXEL[img.format]
            view = img.rows[y : y + height, x * bpp : (x + width) * bpp]
            self._view(mem, image_out_ptr, img, view)

        return self._guard("crop", run)

    def resize(
        self, mem: GuestMemory, image: int, width: int, height: int, mode: int, image_out_ptr: int
    ) -> int:
        def run() -> None:
            img = self._image(image, "resize")
            mem.check(image_out_ptr, 4)
            _check_size(width, height, img.format)
            _check_planar(img, "resize")
            if mode not in (NEAREST, BILINEAR):
                raise _bad(f"resize: mode {mode} is not nearest (0) or bilinear (1)")
            size = width * height * BYTES_PER_PIXEL[img.format]
            scale = resize_nearest if mode == NEAREST else resize_bilinear
            self._add(
                mem,
                image_out_ptr,
                lambda: scale(img.pixels(), width, height).reshape(height, -1),
                size,
                img.format,
            )

        return self._guard("resize", run)

    def rotate(self, mem: GuestMemory, image: int, quarter_turns: int, image_out_ptr: int) -> int:
        def run() -> None:
            img = self._image(image, "rotate")
            mem.check(image_out_ptr, 4)
            _check_planar(img, "rotate")
            if not 0 <= quarter_turns <= 3:
                raise _bad(f"rotate: {quarter_turns} quarter turns (0-3)")
            if quarter_turns == 0:
                self._view(mem, image_out_ptr, img, img.rows)
                return
            turned = np.rot90(img.pixels(), -quarter_turns)  # clockwise
            self._add(
                mem,
                image_out_ptr,
                lambda: turned.reshape(turned.shape[0], -1),
                int(img.rows.size),
                img.format,
            )

        return self._guard("rotate", run)

    def convert(self, mem: GuestMemory, image: int, format: int, image_out_ptr: int) -> int:
        def run() -> None:
            img = self._image(image, "convert")
            mem.check(image_out_ptr, 4)
            if format not in BYTES_PER_PIXEL:
                raise _bad(f"convert: format {format} is not gray8 (0), rgb888 (1) or yuv422 (2)")
            if format == img.format:
                self._view(mem, image_out_ptr, img, img.rows)
                return
            if format == YUV422 and img.width % 2:
                raise _bad(f"convert: yuv422 needs an even width, not {img.width}")
            size = img.width * img.height * BYTES_PER_PIXEL[format]
            self._add(
                mem, image_out_ptr, lambda: convert_rows(img.rows, img.format, format), size, format
            )

        return self._guard("convert", run)

    def info(self, mem: GuestMemory, image: int, info_ptr: int) -> int:
        def run() -> None:
            img = self._image(image, "info")
            mem.check(info_ptr, INFO_SIZE)
            packed = struct.pack("<4I", img.width, img.height, img.format, img.rows.size)
            mem.write(info_ptr, packed)

        return self._guard("info", run)

    def read(
        self, mem: GuestMemory, image: int, dst_ptr: int, dst_max_len: int, written_ptr: int
    ) -> int:
        def run() -> None:
            img = self._image(image, "read")
            mem.check(written_ptr, 4)
            size = int(img.rows.size)
            if dst_max_len < size:
                raise _Failure(
                    NnError.TOO_LARGE, f"read: image is {size} bytes, buffer {dst_max_len}"
                )
            dst = mem.view(dst_ptr, size)
            dst.reshape(img.rows.shape)[...] = img.rows
            mem.write_u32(written_ptr, size)

        return self._guard("read", run)

    def to_tensor(self, mem: GuestMemory, image: int, ctx: int, index: int, layout: int) -> int:
        def run() -> None:
            img = self._image(image, "to_tensor")
            if layout not in (NHWC, NCHW):
                raise _bad(f"to_tensor: layout {layout} is not NHWC (0) or NCHW (1)")
            if img.format not in CHANNELS:
                raise _bad("to_tensor: yuv422 images are converted first")
            info, set_value = self.nn.raw_input(ctx, index)
            h, w, c = img.height, img.width, CHANNELS[img.format]
            shape = (1, h, w, c) if layout == NHWC else (1, c, h, w)
            if tuple(info.shape) != shape:
                raise _bad(f"to_tensor: model input {list(info.shape)} is not {list(shape)}")
            pixels = img.pixels()
            if layout == NCHW:
                pixels = pixels.transpose(2, 0, 1)
            if info.dtype == np.dtype(np.int8):
                value = (pixels ^ np.uint8(0x80)).view(np.int8)  # p - 128, exactly
            else:
                value = pixels
            set_value(np.ascontiguousarray(value).reshape(shape))

        return self._guard("to_tensor", run)

    def drop(self, mem: GuestMemory, image: int) -> int:
        def run() -> None:
            img = self._image(image, "drop")
            del self.images[image]
            self._release(img.owner)

        return self._guard("drop", run)

    # -- for the embedding ------------------------------------------------------------------

    def put_frame(self, frame: np.ndarray, format: int) -> int:
        """A handle for a frame the embedding holds (on the Pi, a camera's numpy array): its
        pixels enter the runtime without passing through linear memory; the embedding passes
        the handle to an export as an i32. `frame` is uint8, (height, width * bpp) or
        (height, width, bpp); copied once (cameras reuse their buffers). Raises ValueError
        naming the reason (size, format, table full, budget)."""
        if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or format not in BYTES_PER_PIXEL:
            raise ValueError(f"put_frame: a uint8 (h, w*bpp) array and a format, not {frame.dtype}")
        rows = frame.reshape(frame.shape[0], -1)
        out = GuestMemory(np.zeros(4, np.uint8))  # where _add writes the handle
        width = rows.shape[1] // BYTES_PER_PIXEL[format]
        try:
            _check_size(width, rows.shape[0], format)
            if width * BYTES_PER_PIXEL[format] != rows.shape[1]:
                raise _bad(f"put_frame: rows of {rows.shape[1]} bytes are not whole pixels")
            self._add(out, 0, rows.copy, int(rows.size), format)
        except _Failure as e:
            raise ValueError(str(e)) from e
        return out.u32(0)

    # -- helpers ---------------------------------------------------------------------------

    def _guard(self, what: str, run: Callable[[], None]) -> int:
        try:
            run()
        except (_Failure, NnFailure) as e:
            self.last_error = f"{what}: {e}"
            log.info("edge_image %s -> %s: %s", what, e.code.name.lower(), e)
            return int(e.code)
        except OutOfBounds as e:
            self.last_error = f"{what}: bad pointer: {e}"
            log.info("edge_image %s -> invalid_argument: %s", what, e)
            return int(NnError.INVALID_ARGUMENT)
        except Exception as e:  # a host bug must not unwind into the engine
            self.last_error = f"{what}: internal error: {e}"
            log.exception("edge_image %s: internal error", what)
            return int(NnError.RUNTIME_ERROR)
        return int(NnError.SUCCESS)

    def _image(self, handle: int, what: str) -> _Image:
        img = self.images.get(handle)
        if img is None:
            raise _bad(f"{what}: unknown image handle {handle}")
        return img

    def _room(self) -> None:
        if len(self.images) >= self.max_images:
            raise _Failure(NnError.BUSY, f"image table full ({self.max_images})")

    def _add(
        self,
        mem: GuestMemory,
        out_ptr: int,
        make: Callable[[], np.ndarray],
        size: int,
        format: int,
    ) -> None:
        """A new image of `size` bytes made by `make` (called only once room is known)."""
        self._room()
        if self.in_use + size > self.budget:
            raise _Failure(
                NnError.TOO_LARGE,
                f"{size} bytes of pixels do not fit ({self.budget - self.in_use} of "
                f"{self.budget} left)",
            )
        rows = np.ascontiguousarray(make(), np.uint8)  # `make` never returns guest memory
        owner = _Pixels(size)
        self.in_use += size
        self._register(mem, out_ptr, _Image(rows, format, owner))

    def _view(self, mem: GuestMemory, out_ptr: int, parent: _Image, rows: np.ndarray) -> None:
        self._room()
        self._register(mem, out_ptr, _Image(rows, parent.format, parent.owner))

    def _register(self, mem: GuestMemory, out_ptr: int, img: _Image) -> None:
        handle = self._next
        self._next += 1
        img.owner.refs += 1
        self.images[handle] = img
        mem.write_u32(out_ptr, handle)

    def _release(self, owner: _Pixels) -> None:
        owner.refs -= 1
        if owner.refs == 0:
            self.in_use -= owner.nbytes


def _check_size(width: int, height: int, format: int) -> None:
    if format not in BYTES_PER_PIXEL:
        raise _bad(f"format {format} is not gray8 (0), rgb888 (1) or yuv422 (2)")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise _bad(f"size {width}x{height}: sides are 1-{MAX_SIDE}")
    if format == YUV422 and width % 2:
        raise _bad(f"yuv422 needs an even width, not {width}")


def _check_planar(img: _Image, what: str) -> None:
    if img.format not in CHANNELS:
        raise _bad(f"{what}: takes gray8 or rgb888 (convert yuv422 first)")


# -- pixel arithmetic (docs/abi.md section 7), vectorised ------------------------------------


def resize_nearest(src: np.ndarray, width: int, height: int) -> np.ndarray:
    sh, sw = src.shape[:2]
    cols = (2 * np.arange(width, dtype=np.int64) + 1) * sw // (2 * width)
    rows = (2 * np.arange(height, dtype=np.int64) + 1) * sh // (2 * height)
    return np.take(src.take(rows, axis=0), cols, axis=1)  # whole rows first: fastest here


def _taps(src_n: int, dst_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.maximum((2 * np.arange(dst_n, dtype=np.int64) + 1) * src_n * 128 // dst_n - 128, 0)
    lo = p >> 8
    return lo, np.minimum(lo + 1, src_n - 1), p & 255


def resize_bilinear(src: np.ndarray, width: int, height: int) -> np.ndarray:
    sh, sw = src.shape[:2]
    x0, x1, wx = _taps(sw, width)
    y0, y1, wy = _taps(sh, height)
    # Only the rows used, in int32 (the largest sum is 255 * 65536 + 32768).
    r0, r1 = src[y0].astype(np.int32), src[y1].astype(np.int32)
    wx_, wy_ = wx.astype(np.int32)[None, :, None], wy.astype(np.int32)[:, None, None]
    top = r0[:, x0] * (256 - wx_) + r0[:, x1] * wx_
    bottom = r1[:, x0] * (256 - wx_) + r1[:, x1] * wx_
    return ((top * (256 - wy_) + bottom * wy_ + 32768) >> 16).astype(np.uint8)


def _clamp(v: np.ndarray) -> np.ndarray:
    return np.clip(v, 0, 255).astype(np.uint8)


def _rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    y = (77 * r + 150 * g + 29 * b + 128) >> 8
    u = (-43 * r - 85 * g + 128 * b + 32896) >> 8
    v = (128 * r - 107 * g - 21 * b + 32896) >> 8
    return _clamp(y), _clamp(u), _clamp(v)


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    y32 = y.astype(np.int32)
    d, e = u.astype(np.int32) - 128, v.astype(np.int32) - 128
    r = y32 + (359 * e + 128) // 256
    g = y32 - (88 * d + 183 * e + 128) // 256
    b = y32 + (454 * d + 128) // 256
    return np.stack([_clamp(r), _clamp(g), _clamp(b)], axis=-1)


def convert_rows(rows: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Packed rows of one format -> packed rows of another (src != dst)."""
    h = rows.shape[0]
    if src == YUV422:
        q = rows.reshape(h, -1, 4).astype(np.int32)  # Y0 U Y1 V
        y = np.stack([q[..., 0], q[..., 2]], axis=-1).reshape(h, -1)
        u = np.repeat(q[..., 1], 2, axis=1)
        v = np.repeat(q[..., 3], 2, axis=1)
        if dst == GRAY8:
            return y.astype(np.uint8)
        return _yuv_to_rgb(y, u, v).reshape(h, -1)
    if src == GRAY8:
        y = rows
        if dst == RGB888:
            return np.repeat(y, 3, axis=1)
        out = np.full((h, y.shape[1] * 2), 128, np.uint8)
        out[:, 0::2] = y
        return out
    rgb = rows.reshape(h, -1, 3)
    y, u, v = _rgb_to_yuv(rgb)
    if dst == GRAY8:
        return y
    u32, v32 = u.astype(np.int32), v.astype(np.int32)
    out = np.empty((h, rgb.shape[1] // 2, 4), np.uint8)
    out[..., 0] = y[:, 0::2]
    out[..., 1] = (u32[:, 0::2] + u32[:, 1::2] + 1) >> 1
    out[..., 2] = y[:, 1::2]
    out[..., 3] = (v32[:, 0::2] + v32[:, 1::2] + 1) >> 1
    return out.reshape(h, -1)
