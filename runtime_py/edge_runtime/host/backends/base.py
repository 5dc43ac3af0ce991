"""The interface every NN backend of the Python host implements.

A backend turns model bytes into a `Graph`; a graph makes independent `Context`s. Tensors cross
this interface as numpy arrays in the model's own dtype (int8 stays int8: quantization for the
f32 path of docs/abi.md is done by the wasi-nn layer, not by backends).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class BackendError(Exception):
    """A backend failed. `kind` maps to a wasi-nn error code in the wasi-nn layer."""

    def __init__(self, kind: str, message: str) -> None:
        # kind: "invalid_encoding" | "unsupported_operation" | "too_large" | "runtime_error"
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: np.dtype  # numpy dtype of the stored values (int8, uint8, float32, int32, ...)
    scale: float  # 0.0 when not quantized
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class Context(ABC):
    @abstractmethod
    def set_input(self, index: int, value: np.ndarray) -> None: ...

    @abstractmethod
    def invoke(self) -> None: ...

    @abstractmethod
    def get_output(self, index: int) -> np.ndarray: ...

    def input_buffer(self, index: int) -> np.ndarray | None:
        """Input `index`'s own storage in the backend as a writable flat uint8 array, valid for
        the life of this context (the wasi-nn layer copies guest bytes straight into it), or
        None when the backend has no stable buffer (then `set_input` is used)."""
        return None

    def output_buffer(self, index: int) -> np.ndarray | None:
        """Output `index`'s storage as a flat uint8 array, valid for the life of this context
        and holding the result of the last `invoke`, or None (then `get_output` is used)."""
        return None


class Graph(ABC):
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    @abstractmethod
    def new_context(self) -> Context: ...


class Backend(ABC):
    name: str

    @abstractmethod
    def load(self, model: bytes) -> Graph:
        """Raises BackendError naming the backend and the reason."""
