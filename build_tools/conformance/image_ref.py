"""Expected pixels for the image cases, straight from the formulas of docs/abi.md section 7.

An independent reference: plain Python over lists of pixels, one pixel at a time, sharing no
code with the runtimes under test (the Pi host's numpy code, the C core). Images are
(width, height, format, rows) with rows a list of lists of per-pixel tuples for gray8/rgb888
and of raw bytes for yuv422.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMATS = {"gray8": 0, "rgb888": 1, "yuv422": 2}
BPP = {0: 1, 1: 3, 2: 2}


@dataclass(frozen=True)
class RefImage:
    width: int
    height: int
    format: int
    data: bytes  # packed rows

    def at(self, x: int, y: int) -> tuple[int, ...]:
        """One pixel of gray8/rgb888."""
        n = BPP[self.format]
        i = (y * self.width + x) * n
        return tuple(self.data[i : i + n])


def _build(width: int, height: int, format: int, pixels: Sequence[tuple[int, ...]]) -> RefImage:
    return RefImage(width, height, format, bytes(v for p in pixels for v in p))


def crop(img: RefImage, x: int, y: int, w: int, h: int) -> RefImage:
    n = BPP[img.format]
    rows = [
        img.data[((y + r) * img.width + x) * n : ((y + r) * img.width + x + w) * n]
        for r in range(h)
    ]
    return RefImage(w, h, img.format, b"".join(rows))


def resize_nearest(img: RefImage, w: int, h: int) -> RefImage:
    out = []
    for y in range(h):
        sy = ((2 * y + 1) * img.height) // (2 * h)
        for x in range(w):
            out.append(img.at(((2 * x + 1) * img.width) // (2 * w), sy))
    return _build(w, h, img.format, out)


def _tap(i: int, src: int, dst: int) -> tuple[int, int, int]:
    p = max(((2 * i + 1) * src * 128) // dst - 128, 0)
    lo = p >> 8
    return lo, min(lo + 1, src - 1), p & 255


def resize_bilinear(img: RefImage, w: int, h: int) -> RefImage:
    out = []
    for y in range(h):
        y0, y1, wy = _tap(y, img.height, h)
        for x in range(w):
            x0, x1, wx = _tap(x, img.width, w)
            a, b, c, d = img.at(x0, y0), img.at(x1, y0), img.at(x0, y1), img.at(x1, y1)
            out.append(
                tuple(
                    (
                        a[k] * (256 - wx) * (256 - wy)
                        + b[k] * wx * (256 - wy)
                        + c[k] * (256 - wx) * wy
                        + d[k] * wx * wy
                        + 32768
                    )
                    >> 16
                    for k in range(len(a))
                )
            )
    return _build(w, h, img.format, out)


def rotate(img: RefImage, quarter_turns: int) -> RefImage:
    """Clockwise: one quarter turn maps (x, y) of the result to (y, H - 1 - x) of the source."""
    for _ in range(quarter_turns % 4):
        w, h = img.height, img.width
        out = [img.at(y, img.height - 1 - x) for y in range(h) for x in range(w)]
        img = _build(w, h, img.format, out)
    return img


def _c(v: int) -> int:
    return min(max(v, 0), 255)


def _yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    return (
        _c((77 * r + 150 * g + 29 * b + 128) >> 8),
        _c((-43 * r - 85 * g + 128 * b + 32896) >> 8),
        _c((128 * r - 107 * g - 21 * b + 32896) >> 8),
    )


def _rgb(y: int, u: int, v: int) -> tuple[int, int, int]:
    d, e = u - 128, v - 128
    return (
        _c(y + (359 * e + 128) // 256),
        _c(y - (88 * d + 183 * e + 128) // 256),
        _c(y + (454 * d + 128) // 256),
    )


def convert(img: RefImage, fmt: int) -> RefImage:
    if fmt == img.format:
        return img
    if img.format == 2:  # yuv422 -> pixels (y, u, v)
        yuv = []
        for i in range(0, len(img.data), 4):
            y0, u, y1, v = img.data[i : i + 4]
            yuv += [(y0, u, v), (y1, u, v)]
    elif img.format == 0:
        yuv = [
            (p[0], 128, 128)
            for p in (img.at(x, y) for y in range(img.height) for x in range(img.width))
        ]
        if fmt == 1:
            return _build(img.width, img.height, 1, [(y, y, y) for y, _, _ in yuv])
    else:
        yuv = [_yuv(*img.at(x, y)) for y in range(img.height) for x in range(img.width)]
    if fmt == 0:
        return _build(img.width, img.height, 0, [(y,) for y, _, _ in yuv])
    if fmt == 1:
        return _build(img.width, img.height, 1, [_rgb(*p) for p in yuv])
    pairs = []
    for i in range(0, len(yuv), 2):
        (y0, u0, v0), (y1, u1, v1) = yuv[i], yuv[i + 1]
        if img.format == 2:  # chroma already shared by the pair
            pairs.append((y0, u0, y1, v0))
        else:
            pairs.append((y0, (u0 + u1 + 1) >> 1, y1, (v0 + v1 + 1) >> 1))
    return _build(img.width, img.height, 2, pairs)


def apply(img: RefImage, ops: list[list[Any]]) -> RefImage:
    """Ops as case files write them: ["crop", x, y, w, h], ["resize", w, h, "nearest" |
    "bilinear"], ["rotate", quarter_turns], ["convert", "gray8" | "rgb888" | "yuv422"]."""
    for op in ops:
        name, args = op[0], op[1:]
        if name == "crop":
            img = crop(img, *args)
        elif name == "resize":
            w, h, mode = args
            img = (resize_nearest if mode == "nearest" else resize_bilinear)(img, w, h)
        elif name == "rotate":
            img = rotate(img, args[0])
        elif name == "convert":
            img = convert(img, FORMATS[args[0]])
        else:
            raise ValueError(f"unknown image op {name!r}")
    return img


def tensor_int8(img: RefImage, layout: str = "nhwc") -> np.ndarray:
    """The int8 model input docs/abi.md defines for to_tensor: p - 128, NHWC or NCHW."""
    values = [p - 128 for p in img.data]
    if layout == "nchw":
        n = BPP[img.format]
        values = [values[i * n + ch] for ch in range(n) for i in range(img.width * img.height)]
    return np.asarray(values, np.int8)


def random_pixels(width: int, height: int, format: int, seed: int) -> bytes:
    """Deterministic test pixels (any bytes are a valid image in every format)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=width * height * BPP[format], dtype=np.uint8).tobytes()
