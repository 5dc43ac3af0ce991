"""LiteRT (`ai-edge-litert`) backend: the Pi host's default.

Op resolver: BUILTIN_WITHOUT_DEFAULT_DELEGATES (optimized builtin kernels, no XNNPACK). Measured
against TFLM on 20 random inputs (FACTS.md, re-measured for the conformance tolerances): VWW,
KWS, micro_speech and hello_world bit-exact, AD <= 1 LSB, ResNet-8 <= 31 LSB. BUILTIN_REF is
bit-exact on ResNet too but 6-9x slower; XNNPACK (AUTO) is faster but drifts on KWS (9 LSB).
"""

from __future__ import annotations

import ctypes
import logging
import re
from typing import Any

import numpy as np

from ..tflite_check import MalformedModel, verify_tflite
from ..tflite_ops import NAMES
from .base import Backend, BackendError, Context, Graph, TensorInfo

log = logging.getLogger(__name__)

RESOLVER = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert import interpreter
    except ImportError as e:
        raise BackendError(
            "unsupported_operation",
            "backend litert: ai-edge-litert is not installed (pip install ai-edge-litert==2.3.0)",
        ) from e
    return interpreter


def _all_static(interp: Any) -> bool:
    """True when every tensor has its storage right after AllocateTensors. A tensor whose
    shape an operator decides during invoke (LiteRT's "dynamic" tensors) has none yet; with one
    of those, invoke may grow and move the whole arena, so no address may be kept."""
    for d in interp.get_tensor_details():
        try:
            view = interp.tensor(d["index"])()
        except ValueError:
            return False
        if view.nbytes and not view.ctypes.data:
            return False
        del view
    return True


def tensor_info(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class LiteRTContext(Context):
    def __init__(self, interp: Any) -> None:
        self._interp = interp
        # Precomputed once: the per-call path only indexes these lists.
        self._in_idx = [d["index"] for d in interp.get_input_details()]
        self._out_idx = [d["index"] for d in interp.get_output_details()]
        self._static = _all_static(interp)

    def _buffer(self, tensor: int) -> np.ndarray | None:
        """A flat uint8 array over the tensor's arena storage. LiteRT refuses to invoke while
        one of its own numpy views is alive, so the view is re-made from the address; with
        every shape static, AllocateTensors ran once and tensor storage never moves."""
        if not self._static:
            return None
        view = self._interp.tensor(tensor)()
        address, nbytes = int(view.ctypes.data), int(view.nbytes)
        del view
        if not address or not nbytes:
            return None
        return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(address))

    def input_buffer(self, index: int) -> np.ndarray | None:
        return self._buffer(self._in_idx[index])

    def output_buffer(self, index: int) -> np.ndarray | None:
        return self._buffer(self._out_idx[index])

    def set_input(self, index: int, value: np.ndarray) -> None:
        self._interp.set_tensor(self._in_idx[index], value)

    def invoke(self) -> None:
        try:
            self._interp.invoke()
        except RuntimeError as e:
            raise BackendError("runtime_error", f"backend litert: invoke failed: {e}") from e

    def get_output(self, index: int) -> np.ndarray:
        return self._interp.get_tensor(self._out_idx[index])


class LiteRTGraph(Graph):
    def __init__(self, model: bytes, first: Any) -> None:
        self._model = model
        self._spare: Any | None = first  # the interpreter used to read tensor info, reused once
        self.inputs = [tensor_info(d) for d in first.get_input_details()]
        self.outputs = [tensor_info(d) for d in first.get_output_details()]

    def new_context(self) -> Context:
        interp, self._spare = self._spare, None
        if interp is None:
            interp = _create(self._model)
        return LiteRTContext(interp)


def _create(model: bytes) -> Any:
    mod = _interpreter_class()
    try:
        interp = mod.Interpreter(
            model_content=model,
            num_threads=1,
            experimental_op_resolver_type=getattr(mod.OpResolverType, RESOLVER),
        )
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:300]
        where = operator_named(model, reason)
        raise BackendError("unsupported_operation", f"backend litert: {where}{reason}") from e
    return interp


def operator_named(model: bytes, reason: str) -> str:
    """ "CONV_2D (operator 0): " when LiteRT's complaint names a tensor but no operator."""
    m = re.search(r"Tensor (\d+)", reason)
    if m is None or re.search(r"\(([A-Z0-9_]+)\)", reason):
        return ""
    try:
        found = verify_tflite(model).operator_reading(int(m.group(1)))
    except MalformedModel:
        return ""
    if found is None:
        return ""
    index, code = found
    return f"{operator_name(code)} (operator {index}): "


def operator_name(code: int) -> str:
    if code in NAMES:
        return NAMES[code]
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return f"operator code {code}"
    for name, value in vars(schema.BuiltinOperator).items():
        if value == code and not name.startswith("_"):
            return str(name)
    return f"operator code {code}"


class LiteRTBackend(Backend):
    name = "litert"

    def load(self, model: bytes) -> Graph:
        return LiteRTGraph(model, _create(model))
