"""One comparison of the built-in backend against the TFLM oracle, shared by the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_runtime.host.backends.base import Context


def assert_same_as_oracle(
    ctx: Context, oracle: Any, inputs: list[np.ndarray], outputs: int, label: str
) -> None:
    """Runs the same inputs through both; outputs must match bit for bit (floats by their bits:
    same rounding, same signed zeros)."""
    for i, x in enumerate(inputs):
        oracle.set_input(x, i)
        ctx.set_input(i, x)
    oracle.invoke()
    ctx.invoke()
    for o in range(outputs):
        want = np.asarray(oracle.get_output(o))
        got = ctx.get_output(o)
        assert got.dtype == want.dtype and got.shape == want.shape, f"{label} output {o}"
        if got.dtype == np.float32:
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=label)
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{label} output {o}")
