"""The f32 path of docs/abi.md: quantize guest f32 input, dequantize quantized output.

Arithmetic is single precision (what a C runtime does with `float`), and rounding is exact
half-away-from-zero: `floor(|v| + 0.5)` would round 0.49999997 up in f32.
"""

from __future__ import annotations

import numpy as np

from .backends.base import TensorInfo

_RANGES = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}


def quantizable(info: TensorInfo) -> bool:
    return info.quantized and info.dtype in _RANGES


def round_half_away(v: np.ndarray) -> np.ndarray:
    whole = np.trunc(v)
    frac = v - whole  # exact in binary floating point
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(v), 0).astype(v.dtype)


def quantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    qmin, qmax = _RANGES[info.dtype]
    scaled = values.astype(np.float32) / np.float32(info.scale)
    nan = np.isnan(scaled)
    with np.errstate(invalid="ignore"):
        q = round_half_away(np.where(nan, np.float32(0), scaled)) + np.float32(info.zero_point)
        q = np.clip(q, qmin, qmax)
    q[nan] = info.zero_point
    return q.astype(info.dtype)


def dequantize(values: np.ndarray, info: TensorInfo) -> np.ndarray:
    return (values.astype(np.float32) - np.float32(info.zero_point)) * np.float32(info.scale)
