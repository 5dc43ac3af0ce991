"""The built-in int8 backend (runtime_c/nn/builtin, libnnb.so) through ctypes.

The same C code the microcontroller runs, so a Raspberry Pi (aarch64, where no tflite-micro
wheel exists) reproduces TFLM's numerics bit for bit. The library is prebuilt into the
platform wheel (edge_runtime.native); a device never compiles it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ... import native
from ...errors import EdgeRuntimeError
from .base import Backend, BackendError, Context, Graph, TensorInfo

log = logging.getLogger(__name__)

LIB = "nnb"  # edge_runtime.native: libnnb.so
MAX_DIMS = 6
ERROR_LEN = 96

# nnb_status_t -> BackendError kind (wasi-nn error names)
KINDS = {
    1: "invalid_encoding",
    2: "unsupported_operation",
    3: "too_large",
    4: "invalid_argument",
    5: "runtime_error",
}

# nnb_type_t (TFLite TensorType numbering) -> numpy dtype
DTYPES: dict[int, np.dtype[Any]] = {
    0: np.dtype(np.float32),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint8),
    9: np.dtype(np.int8),
}


class _Error(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * ERROR_LEN)]


class _TensorInfo(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int32),
        ("rank", ctypes.c_uint32),
        ("dims", ctypes.c_int32 * MAX_DIMS),
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int32),
        ("bytes", ctypes.c_size_t),
    ]


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def signatures() -> dict[str, tuple[object, list[object]]]:
    """The C functions this backend calls: name -> (result type, argument types)."""
    vp, sz, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32
    err_p = ctypes.POINTER(_Error)
    info_p = ctypes.POINTER(_TensorInfo)
    sigs: dict[str, tuple[object, list[object]]] = {
        "nnb_model_struct_size": (sz, []),
        "nnb_interp_struct_size": (sz, []),
        "nnb_model_parse": (ctypes.c_int, [vp, vp, sz, err_p]),
        "nnb_arena_required": (sz, [vp]),
        "nnb_arena_activation_bytes": (sz, [vp]),
        "nnb_arena_persistent_bytes": (sz, [vp]),
        "nnb_model_macs": (ctypes.c_uint64, [vp]),
        "nnb_input_count": (u32, [vp]),
        "nnb_output_count": (u32, [vp]),
        "nnb_input_info": (ctypes.c_int, [vp, u32, info_p]),
        "nnb_output_info": (ctypes.c_int, [vp, u32, info_p]),
        "nnb_interp_init": (ctypes.c_int, [vp, vp, vp, sz, err_p]),
        "nnb_input_data": (vp, [vp, u32]),
        "nnb_output_data": (vp, [vp, u32]),
        "nnb_set_input": (ctypes.c_int, [vp, u32, vp, sz, err_p]),
        "nnb_invoke": (ctypes.c_int, [vp, err_p]),
    }
    return sigs


def _declare(lib: ctypes.CDLL) -> None:
    for name, (res, args) in signatures().items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def load_library() -> ctypes.CDLL:
    """The process-wide libnnb handle (edge_runtime.native: the packaged library, or what a
    source checkout's tools provide); never compiled here."""
    global _lib
    with _lock:
        if _lib is None:
            try:
                path = native.library_path(LIB)
            except EdgeRuntimeError as e:
                raise BackendError(
                    "unsupported_operation", f"builtin backend unavailable: {e}"
                ) from e
            log.debug("loading %s", path)
            lib = ctypes.CDLL(str(path))
            _declare(lib)
            _lib = lib
        return _lib


def open_library(path: Path) -> ctypes.CDLL:
    """A libnnb other than the process-wide one (tests load the "scalar" build beside it)."""
    lib = ctypes.CDLL(str(path))
    _declare(lib)
    return lib


def _raise(status: int, err: _Error, what: str) -> None:
    if status != 0:
        msg = err.msg.decode("utf-8", "replace") or "no detail"
        raise BackendError(KINDS.get(status, "runtime_error"), f"backend builtin: {what}: {msg}")


def _info(ti: _TensorInfo) -> TensorInfo:
    dtype = DTYPES.get(ti.type)
    if dtype is None:
        raise BackendError("unsupported_operation", f"backend builtin: tensor type {ti.type}")
    return TensorInfo(
        shape=tuple(int(ti.dims[i]) for i in range(ti.rank)),
        dtype=dtype,
        scale=float(ti.scale),
        zero_point=int(ti.zero_point),
    )


class BuiltinContext(Context):
    def __init__(self, graph: BuiltinGraph) -> None:
        lib = graph.lib
        self._graph = graph
        self._lib = lib
        self._interp = ctypes.create_string_buffer(lib.nnb_interp_struct_size())
        self.arena_bytes = int(lib.nnb_arena_required(graph.model_struct))
        self._arena = ctypes.create_string_buffer(max(self.arena_bytes, 1))
        err = _Error()
        st = lib.nnb_interp_init(
            self._interp, graph.model_struct, self._arena, self.arena_bytes, ctypes.byref(err)
        )
        _raise(st, err, "init")

    def _array(self, ptr: int | None, info: TensorInfo) -> np.ndarray:
        if not ptr:
            raise BackendError("invalid_argument", "backend builtin: no such tensor")
        nbytes = info.size * info.dtype.itemsize
        raw = (ctypes.c_char * nbytes).from_address(ptr)
        return np.frombuffer(memoryview(raw), dtype=info.dtype).reshape(info.shape)

    def set_input(self, index: int, value: np.ndarray) -> None:
        inputs = self._graph.inputs
        if not 0 <= index < len(inputs):
            raise BackendError("invalid_argument", f"backend builtin: no input {index}")
        info = inputs[index]
        arr = np.asarray(value)
        if arr.dtype != info.dtype or arr.size != info.size:
            raise BackendError(
                "invalid_argument",
                f"backend builtin: input {index} wants {info.dtype} {list(info.shape)}, "
                f"got {arr.dtype} {list(arr.shape)}",
            )
        dst = self._array(self._lib.nnb_input_data(self._interp, index), info)
        dst.reshape(-1)[:] = arr.reshape(-1)

    def input_buffer(self, index: int) -> np.ndarray | None:
        info = self._graph.inputs[index]
        return (
            self._array(self._lib.nnb_input_data(self._interp, index), info)
            .view(np.uint8)
            .reshape(-1)
        )

    def output_buffer(self, index: int) -> np.ndarray | None:
        info = self._graph.outputs[index]
        return (
            self._array(self._lib.nnb_output_data(self._interp, index), info)
            .view(np.uint8)
            .reshape(-1)
        )

    def invoke(self) -> None:
        err = _Error()
        _raise(self._lib.nnb_invoke(self._interp, ctypes.byref(err)), err, "invoke")

    def get_output(self, index: int) -> np.ndarray:
        outputs = self._graph.outputs
        if not 0 <= index < len(outputs):
            raise BackendError("invalid_argument", f"backend builtin: no output {index}")
        info = outputs[index]
        return self._array(self._lib.nnb_output_data(self._interp, index), info).copy()


class BuiltinGraph(Graph):
    def __init__(self, lib: ctypes.CDLL, model: bytes) -> None:
        self.lib = lib
        # The C side reads the model in place: keep these buffers alive with the graph.
        self._model = ctypes.create_string_buffer(model, len(model))
        self.model_struct = ctypes.create_string_buffer(lib.nnb_model_struct_size())
        err = _Error()
        st = lib.nnb_model_parse(self.model_struct, self._model, len(model), ctypes.byref(err))
        _raise(st, err, "load")
        self.inputs = [
            self._io(lib.nnb_input_info, i) for i in range(lib.nnb_input_count(self.model_struct))
        ]
        self.outputs = [
            self._io(lib.nnb_output_info, i) for i in range(lib.nnb_output_count(self.model_struct))
        ]
        self.arena_bytes = int(lib.nnb_arena_required(self.model_struct))
        self.activation_bytes = int(lib.nnb_arena_activation_bytes(self.model_struct))
        self.persistent_bytes = int(lib.nnb_arena_persistent_bytes(self.model_struct))
        self.macs = int(lib.nnb_model_macs(self.model_struct))

    def _io(self, fn: object, index: int) -> TensorInfo:
        ti = _TensorInfo()
        st = fn(self.model_struct, index, ctypes.byref(ti))  # type: ignore[operator]
        if st != 0:
            raise BackendError(KINDS.get(st, "runtime_error"), f"backend builtin: tensor {index}")
        return _info(ti)

    def new_context(self) -> BuiltinContext:
        return BuiltinContext(self)


class BuiltinBackend(Backend):
    name = "builtin"

    def __init__(self, lib: ctypes.CDLL | None = None) -> None:
        self.lib = lib if lib is not None else load_library()

    def load(self, model: bytes) -> BuiltinGraph:
        return BuiltinGraph(self.lib, model)
