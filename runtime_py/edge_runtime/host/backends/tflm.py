"""TFLite Micro backend (the `tflite-micro` package): the microcontroller's numerics on the Pi,
and the conformance oracle. The package has x86_64 wheels only."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np

from ..tflite_check import io_counts
from .base import Backend, BackendError, Context, Graph, TensorInfo


def runtime_module() -> Any:
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:
        machine = platform.machine()
        why = (
            f"tflite-micro has no wheels for {machine} (x86_64 only)"
            if machine != "x86_64"
            else "tflite-micro is not installed"
        )
        raise BackendError(
            "unsupported_operation",
            f"backend tflm: unavailable: {why}; use --backend builtin for TFLM-exact numerics",
        ) from e
    return runtime


def _info(detail: dict[str, Any]) -> TensorInfo:
    q = detail.get("quantization_parameters") or {}
    scales = q.get("scales")
    zps = q.get("zero_points")
    scale = float(scales[0]) if scales is not None and len(scales) else 0.0
    zp = int(zps[0]) if zps is not None and len(zps) else 0
    return TensorInfo(
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=scale,
        zero_point=zp,
    )


def _details(interp: Any, getter: str, count: int) -> list[TensorInfo]:
    return [_info(getattr(interp, getter)(i)) for i in range(count)]


class TFLMContext(Context):
    def __init__(self, interp: Any) -> None:
        self._interp = interp

    def set_input(self, index: int, value: np.ndarray) -> None:
        self._interp.set_input(value, index)

    def invoke(self) -> None:
        try:
            self._interp.invoke()
        except RuntimeError as e:
            raise BackendError("runtime_error", f"backend tflm: invoke failed: {e}") from e

    def get_output(self, index: int) -> np.ndarray:
        return np.asarray(self._interp.get_output(index))


class TFLMGraph(Graph):
    def __init__(self, model: bytes, first: Any) -> None:
        self._model = model
        self._spare: Any | None = first
        # TFLM's Python API has no tensor count (and prints to stderr when probed): read it
        # from the flatbuffer.
        n_in, n_out = io_counts(model)
        self.inputs = _details(first, "get_input_details", n_in)
        self.outputs = _details(first, "get_output_details", n_out)

    def new_context(self) -> Context:
        interp, self._spare = self._spare, None
        return TFLMContext(interp if interp is not None else _create(self._model))


def _create(model: bytes) -> Any:
    runtime = runtime_module()
    try:
        return runtime.Interpreter.from_bytes(model)
    except (ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:300]
        raise BackendError("unsupported_operation", f"backend tflm: {reason}") from e


class TFLMBackend(Backend):
    name = "tflm"

    def __init__(self) -> None:
        runtime_module()

    def load(self, model: bytes) -> Graph:
        return TFLMGraph(model, _create(model))
