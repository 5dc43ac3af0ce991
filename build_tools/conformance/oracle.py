"""Expected inference results from TFLM (the `tflite-micro` Python interpreter), computed at
test time from the shared model files, never from the runtime under test."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .inputs import shared_file

log = logging.getLogger(__name__)


class OracleUnavailable(Exception):
    pass


class TflmOracle:
    def __init__(self) -> None:
        self._interpreters: dict[str, Any] = {}

    def _interpreter(self, model: str) -> Any:
        interp = self._interpreters.get(model)
        if interp is None:
            try:
                from tflite_micro.python.tflite_micro import runtime
            except ImportError as e:
                raise OracleUnavailable(
                    "oracle unavailable: tflite-micro is not installed (x86_64 wheels only)"
                ) from e
            interp = runtime.Interpreter.from_file(str(shared_file("models", f"{model}.tflite")))
            self._interpreters[model] = interp
        return interp

    def run(self, model: str, value: np.ndarray, index: int = 0) -> np.ndarray:
        interp = self._interpreter(model)
        detail = interp.get_input_details(0)
        interp.set_input(value.astype(detail["dtype"]).reshape(detail["shape"]), 0)
        interp.invoke()
        return np.asarray(interp.get_output(index)).reshape(-1)
