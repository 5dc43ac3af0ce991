"""`tflite-runtime` backend for older Pi installs. It needs numpy<2, so it is not in the project
venv: it is imported lazily and reports clearly when it is missing."""

from __future__ import annotations

from typing import Any

from .base import Backend, BackendError, Context, Graph
from .litert import LiteRTContext, operator_named, tensor_info


def _module() -> Any:
    try:
        from tflite_runtime import interpreter  # type: ignore[import-not-found,unused-ignore]
    except ImportError as e:
        raise BackendError(
            "unsupported_operation",
            "backend tflite-runtime: not installed (it needs numpy<2: install "
            "tflite-runtime==2.14.0 in a separate environment), or use --backend litert",
        ) from e
    return interpreter


class TfliteRuntimeGraph(Graph):
    def __init__(self, model: bytes, first: Any) -> None:
        self._model = model
        self._spare: Any | None = first
        self.inputs = [tensor_info(d) for d in first.get_input_details()]
        self.outputs = [tensor_info(d) for d in first.get_output_details()]

    def new_context(self) -> Context:
        interp, self._spare = self._spare, None
        return LiteRTContext(interp if interp is not None else _create(self._model))


def _create(model: bytes) -> Any:
    mod = _module()
    try:
        interp = mod.Interpreter(model_content=model, num_threads=1)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:300]
        where = operator_named(model, reason)
        raise BackendError(
            "unsupported_operation", f"backend tflite-runtime: {where}{reason}"
        ) from e
    return interp


class TfliteRuntimeBackend(Backend):
    name = "tflite-runtime"

    def __init__(self) -> None:
        _module()  # fail at selection time, not at the first model

    def load(self, model: bytes) -> Graph:
        return TfliteRuntimeGraph(model, _create(model))
