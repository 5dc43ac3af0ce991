"""Input data for cases: images from the shared data, seeded synthetic tensors, f32 patterns.

Each generator returns the bytes the guest gets and, for model inputs, the int8 tensor the
oracle gets (for the f32 path: the quantized values derived by hand from the pattern).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..paths import shared_root


class MissingData(Exception):
    """A shared reference file is not there: the case is skipped, naming it."""


def shared_file(kind: str, name: str) -> Path:
    path = shared_root() / kind / name
    if not path.is_file():
        raise MissingData(f"missing reference file {kind}/{name}")
    return path


def bmp_gray_int8(path: Path) -> np.ndarray:
    """An 8-bit BMP of the person-detection test data as the model's int8 input, top row first.

    These files store the int8 input values themselves as pixel bytes (two's complement, as in
    TFLM's test arrays): shown through the linear palette they wrap around, while `byte ^ 0x80`
    is the natural photograph. So the bytes are reinterpreted, not shifted by 128.
    """
    data = path.read_bytes()
    if data[:2] != b"BM":
        raise ValueError(f"{path.name}: not a BMP")
    (offset,) = struct.unpack_from("<I", data, 10)
    width, height = struct.unpack_from("<ii", data, 18)
    (bpp,) = struct.unpack_from("<H", data, 28)
    if bpp != 8:
        raise ValueError(f"{path.name}: {bpp} bits per pixel, expected 8 (grayscale)")
    stride = (width + 3) & ~3
    rows = np.frombuffer(data, np.uint8, stride * abs(height), offset).reshape(abs(height), stride)
    pixels = rows[:, :width]
    if height > 0:  # bottom-up storage
        pixels = pixels[::-1]
    return np.ascontiguousarray(pixels).view(np.int8).reshape(-1)


def synthetic_int8(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=count, dtype=np.int8)


def f32_rounding(count: int, zero_point: int) -> tuple[bytes, np.ndarray]:
    """For an input with scale exactly 1.0: ties, saturation, NaN and infinities.

    Expected values follow docs/abi.md by hand: round half away from zero, add the zero point,
    clamp to int8; NaN becomes the zero point.
    """
    specials: list[tuple[float, int]] = [
        (float("nan"), zero_point),
        (float("inf"), 127),
        (float("-inf"), -128),
        (1e9, 127),
        (-1e9, -128),
        (0.49999997, zero_point),  # below the tie: f32 rounding must not push it up
        (-0.5, max(-128, zero_point - 1)),
    ]
    values: list[float] = []
    expected: list[int] = []
    k = 0
    while len(values) < count:
        if k < len(specials):
            v, q = specials[k]
        else:
            base = (k * 37) % 255  # 0..254, so k+0.5 rounds to base+1 (away from zero)
            v, q = base + 0.5, int(np.clip(base + 1 + zero_point, -128, 127))
        values.append(v)
        expected.append(q)
        k += 1
    return np.asarray(values, np.float32).tobytes(), np.asarray(expected, np.int8)


def f32_random(count: int, seed: int, scale: float, zero_point: int) -> tuple[bytes, np.ndarray]:
    """f32 values within 0.45 LSB of a random int8 grid point: quantization must recover it."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-128, 128, size=count, dtype=np.int8)
    jitter = rng.uniform(-0.45, 0.45, size=count)
    values = ((q.astype(np.float64) - zero_point + jitter) * scale).astype(np.float32)
    return values.tobytes(), q
