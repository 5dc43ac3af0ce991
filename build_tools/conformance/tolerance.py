"""Tolerances for int8 outputs against the oracle: `exact`, `lsb:N`, `top1` (all listed must hold).

LiteRT-backed runs are held to per-model tolerances measured against TFLM (case file comments);
TFLM-compatible backends are held to `exact`.
"""

from __future__ import annotations

import numpy as np


def check_tolerance(actual: np.ndarray, expected: np.ndarray, spec: str | list[str]) -> str | None:
    """None when `actual` is within `spec` of `expected`, else what is wrong."""
    if actual.shape != expected.shape:
        return f"{actual.size} values, expected {expected.size}"
    specs = [spec] if isinstance(spec, str) else list(spec)
    diff = np.abs(actual.astype(np.int32) - expected.astype(np.int32))
    worst = int(diff.max()) if diff.size else 0
    for s in specs:
        if s == "exact":
            if worst:
                i = int(np.argmax(diff))
                return f"not bit-exact: [{i}] = {int(actual[i])}, expected {int(expected[i])} ({int((diff > 0).sum())} values differ)"
        elif s.startswith("lsb:"):
            limit = int(s[4:])
            if worst > limit:
                return f"max difference {worst} LSB > {limit}"
        elif s == "top1":
            a, e = int(np.argmax(actual)), int(np.argmax(expected))
            if a != e:
                return f"top-1 class {a}, expected {e}"
        else:
            return f"unknown tolerance {s!r}"
    return None
