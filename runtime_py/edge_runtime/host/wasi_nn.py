"""`wasi_ephemeral_nn` (witx ABI) for one guest instance, as specified in docs/abi.md section 3.

Every entry point returns a wasi-nn error code; nothing raises into the engine. The graph loader
(backend choice, fallback, caching) is shared by all instances of a runtime; handles are not.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from .backends.base import BackendError, Context, TensorInfo
from .loader import GraphLoader, LoadedGraph, LoadFailure
from .memory import GuestMemory, OutOfBounds
from .models import valid_name
from .quant import dequantize, quantizable, quantize

log = logging.getLogger(__name__)


class NnError(IntEnum):
    SUCCESS = 0
    INVALID_ARGUMENT = 1
    INVALID_ENCODING = 2
    MISSING_MEMORY = 3
    BUSY = 4
    RUNTIME_ERROR = 5
    UNSUPPORTED_OPERATION = 6
    TOO_LARGE = 7
    NOT_FOUND = 8


TYPE_F16, TYPE_F32, TYPE_F64, TYPE_U8, TYPE_I32, TYPE_I64 = range(6)
ENCODING_TFLITE = 4
TARGET_CPU = 0
TENSOR_STRUCT_SIZE = 20
_TENSOR = struct.Struct("<IIB3xII")  # dims_ptr, dims_len, type, (padding), data_ptr, data_len

# Tensor type a non-quantized tensor of this dtype must be given as.
_PLAIN_TYPES = {
    np.dtype(np.float32): TYPE_F32,
    np.dtype(np.uint8): TYPE_U8,
    np.dtype(np.int8): TYPE_U8,
    np.dtype(np.int32): TYPE_I32,
    np.dtype(np.int64): TYPE_I64,
}


class NnFailure(Exception):
    def __init__(self, code: NnError, message: str) -> None:
        super().__init__(message)
        self.code = code


def _bad(message: str) -> NnFailure:
    return NnFailure(NnError.INVALID_ARGUMENT, message)


_U32 = struct.Struct("<I")


def _input_plan(info: TensorInfo, sink: np.ndarray | None) -> _InputPlan:
    q = quantizable(info)
    raw_type = TYPE_U8 if q else _PLAIN_TYPES.get(info.dtype, -1)
    nbytes = info.size * info.dtype.itemsize
    shape = struct.pack(f"<{len(info.shape)}I", *info.shape)
    sink = _exact(sink, info)
    mv = sink.data if sink is not None else None
    return _InputPlan(info, shape, info.size, raw_type, nbytes, q, sink, mv)


def _output_plan(info: TensorInfo, source: np.ndarray | None) -> _OutputPlan:
    source = _exact(source, info)
    mv = source.data if source is not None else None
    return _OutputPlan(info, info.size * info.dtype.itemsize, quantizable(info), source, mv)


def _exact(buffer: np.ndarray | None, info: TensorInfo) -> np.ndarray | None:
    """A backend buffer is used only when it is exactly the tensor's bytes."""
    if buffer is None or buffer.dtype != np.uint8 or buffer.size != info.size * info.dtype.itemsize:
        return None
    return buffer


_LOAD_CODES = {
    "invalid_encoding": NnError.INVALID_ENCODING,
    "unsupported_operation": NnError.UNSUPPORTED_OPERATION,
    "too_large": NnError.TOO_LARGE,
    "not_found": NnError.NOT_FOUND,
    "runtime_error": NnError.RUNTIME_ERROR,
}


@dataclass
class _InputPlan:
    """Per input, precomputed at context creation: what set_input accepts and how to convert."""

    info: TensorInfo
    shape: bytes  # expected dims as packed <u4, compared byte-wise with the guest's dims array
    count: int
    raw_type: int  # the wasi-nn type whose bytes are the model's own values (u8 for int8)
    nbytes: int  # size of those bytes
    quantizable: bool  # also accepts f32 (docs/abi.md, quantized models)
    sink: np.ndarray | None  # the backend's own input storage (flat uint8), if it has one
    sink_mv: memoryview | None  # the same, as a memoryview (cheaper to copy into)


@dataclass
class _OutputPlan:
    info: TensorInfo
    nbytes: int
    quantizable: bool
    source: np.ndarray | None  # the backend's own output storage (flat uint8), if it has one
    source_mv: memoryview | None


@dataclass
class _ContextEntry:
    ctx: Context
    graph: LoadedGraph
    plans: list[_InputPlan]
    outputs: list[_OutputPlan]
    f32: bool | None = None  # representation of quantized tensors: None until the first set_input
    inputs_set: set[int] = field(default_factory=set)
    computed: bool = False


class WasiNn:
    """The wasi-nn state of one instance: graph and context tables, never reusing a handle."""

    def __init__(self, loader: GraphLoader, max_graphs: int, max_contexts: int) -> None:
        self.loader = loader
        self.max_graphs = max_graphs
        self.max_contexts = max_contexts
        self.graphs: dict[int, LoadedGraph] = {}
        self.contexts: dict[int, _ContextEntry] = {}
        self._next_graph = 0
        self._next_ctx = 0
        self.last_error = ""

    # -- entry points: (memory, i32 args...) -> error code --------------------------------

    def load(
        self,
        mem: GuestMemory,
        builder_ptr: int,
        builder_len: int,
        encoding: int,
        target: int,
        graph_out: int,
    ) -> int:
        def run() -> None:
            if builder_len != 1:
                raise _bad(f"load: {builder_len} builders; TFLite takes exactly 1")
            model_ptr, model_len = mem.u32(builder_ptr), mem.u32(builder_ptr + 4)
            mem.check(graph_out, 4)
            if encoding != ENCODING_TFLITE:
                raise NnFailure(
                    NnError.INVALID_ENCODING, f"load: encoding {encoding} is not tensorflowlite (4)"
                )
            if target != TARGET_CPU:
                raise NnFailure(
                    NnError.UNSUPPORTED_OPERATION, f"load: execution target {target} is not cpu (0)"
                )
            self._check_graph_room()
            model = mem.view(model_ptr, model_len).tobytes()
            self._add_graph(mem, graph_out, lambda: self.loader.load_bytes(model, None))

        return self._guard("load", run)

    def load_by_name(self, mem: GuestMemory, name_ptr: int, name_len: int, graph_out: int) -> int:
        return self._guard(
            "load_by_name", lambda: self._load_named(mem, name_ptr, name_len, None, graph_out)
        )

    def load_by_name_with_config(
        self,
        mem: GuestMemory,
        name_ptr: int,
        name_len: int,
        config_ptr: int,
        config_len: int,
        graph_out: int,
    ) -> int:
        def run() -> None:
            backend = self._parse_config(mem.view(config_ptr, config_len).tobytes())
            self._load_named(mem, name_ptr, name_len, backend, graph_out)

        return self._guard("load_by_name_with_config", run)

    def init_execution_context(self, mem: GuestMemory, graph: int, ctx_out: int) -> int:
        def run() -> None:
            g = self.graphs.get(graph)
            if g is None:
                raise _bad(f"init_execution_context: unknown graph handle {graph}")
            mem.check(ctx_out, 4)
            if len(self.contexts) >= self.max_contexts:
                raise NnFailure(NnError.BUSY, f"context table full ({self.max_contexts})")
            try:
                ctx = g.graph.new_context()
            except BackendError as e:
                raise NnFailure(NnError.RUNTIME_ERROR, str(e)) from e
            plans = [
                _input_plan(info, ctx.input_buffer(i)) for i, info in enumerate(g.graph.inputs)
            ]
            outputs = [
                _output_plan(info, ctx.output_buffer(i)) for i, info in enumerate(g.graph.outputs)
            ]
            handle = self._next_ctx
            self._next_ctx += 1
            self.contexts[handle] = _ContextEntry(ctx, g, plans, outputs)
            mem.write_u32(ctx_out, handle)

        return self._guard("init_execution_context", run)

    # The three calls of every inference are written out flat (no closure, no helper layers):
    # they are the per-inference overhead of the host (`bench host`).

    def set_input(self, mem: GuestMemory, ctx: int, index: int, tensor_ptr: int) -> int:
        try:
            entry = self.contexts.get(ctx)
            if entry is None:
                raise _bad(f"set_input: unknown context handle {ctx}")
            plans = entry.plans
            if not 0 <= index < len(plans):
                raise _bad(f"set_input: input index {index} (model has {len(plans)})")
            plan = plans[index]
            mv = mem.mv
            if tensor_ptr + TENSOR_STRUCT_SIZE > mem.size:
                raise OutOfBounds(f"tensor struct at {tensor_ptr:#x}")
            # The type is one byte; the padding after it is ignored (docs/abi.md).
            dims_ptr, dims_len, ttype, data_ptr, data_len = _TENSOR.unpack_from(mv, tensor_ptr)
            dims_end, data_end = dims_ptr + 4 * dims_len, data_ptr + data_len
            if dims_end > mem.size or data_end > mem.size:
                raise OutOfBounds(
                    f"dims [{dims_ptr:#x}, +{4 * dims_len}) or data [{data_ptr:#x}, +{data_len})"
                )
            if mv[dims_ptr:dims_end] != plan.shape:  # rank and extents, byte-wise
                dims = mem.bytes[dims_ptr:dims_end].view("<u4").tolist()
                raise _bad(f"set_input: dims {dims} != model input {list(plan.info.shape)}")
            if ttype == plan.raw_type and entry.f32 is not True:
                if data_len != plan.nbytes:
                    raise _bad(f"set_input: data is {data_len} bytes, expected {plan.nbytes}")
                if plan.quantizable:
                    entry.f32 = False
                sink = plan.sink_mv
                if sink is not None:
                    sink[:] = mv[data_ptr:data_end]  # guest memory straight into the tensor
                else:
                    data = mem.bytes[data_ptr:data_end]
                    entry.ctx.set_input(index, data.view(plan.info.dtype).reshape(plan.info.shape))
            else:
                value = self._input_value(entry, plan, ttype, mem.bytes[data_ptr:data_end])
                if plan.sink is not None:
                    plan.sink.view(value.dtype)[:] = value.reshape(-1)
                else:
                    entry.ctx.set_input(index, value)
            entry.inputs_set.add(index)
            return 0
        except Exception as e:
            return self._failed("set_input", e)

    def compute(self, mem: GuestMemory, ctx: int) -> int:
        try:
            entry = self.contexts.get(ctx)
            if entry is None:
                raise _bad(f"compute: unknown context handle {ctx}")
            if len(entry.inputs_set) != len(entry.plans):
                missing = sorted(set(range(len(entry.plans))) - entry.inputs_set)
                raise _bad(f"compute: input(s) {missing} not set")
            entry.inputs_set.clear()  # compute consumes the inputs (docs/abi.md)
            entry.computed = False
            try:
                entry.ctx.invoke()
            except BackendError as e:
                raise NnFailure(NnError.RUNTIME_ERROR, str(e)) from e
            entry.computed = True
            return 0
        except Exception as e:
            return self._failed("compute", e)

    def get_output(
        self,
        mem: GuestMemory,
        ctx: int,
        index: int,
        out_ptr: int,
        out_max_len: int,
        written_ptr: int,
    ) -> int:
        try:
            entry = self.contexts.get(ctx)
            if entry is None:
                raise _bad(f"get_output: unknown context handle {ctx}")
            outputs = entry.outputs
            if not 0 <= index < len(outputs):
                raise _bad(f"get_output: output index {index} (model has {len(outputs)})")
            if not entry.computed:
                raise _bad("get_output: no successful compute on this context yet")
            size = mem.size
            if out_ptr + out_max_len > size or written_ptr + 4 > size:
                raise OutOfBounds(f"output [{out_ptr:#x}, +{out_max_len}) or {written_ptr:#x}")
            out = outputs[index]
            if entry.f32 and out.quantizable:
                value = dequantize(entry.ctx.get_output(index), out.info)
                raw = value.reshape(-1).view(np.uint8)
            elif out.source_mv is not None:
                n = out.nbytes
                if n > out_max_len:
                    raise NnFailure(
                        NnError.TOO_LARGE, f"get_output: output is {n} bytes, buffer {out_max_len}"
                    )
                mv = mem.mv
                mv[out_ptr : out_ptr + n] = out.source_mv  # the tensor straight into the guest
                _U32.pack_into(mv, written_ptr, n)
                return 0
            else:
                raw = np.ascontiguousarray(entry.ctx.get_output(index)).reshape(-1).view(np.uint8)
            n = raw.size
            if n > out_max_len:
                raise NnFailure(
                    NnError.TOO_LARGE, f"get_output: output is {n} bytes, buffer {out_max_len}"
                )
            mem.bytes[out_ptr : out_ptr + n] = raw
            _U32.pack_into(mem.mv, written_ptr, n)
            return 0
        except Exception as e:
            return self._failed("get_output", e)

    def raw_input(self, ctx: int, index: int) -> tuple[TensorInfo, Callable[[np.ndarray], None]]:
        """For edge_image.to_tensor (docs/abi.md section 7): input `index` of `ctx` on the raw
        u8 path, and a function setting it from an array of its dtype and shape, as set_input
        does. NnFailure (invalid_argument) for a bad handle or index, an input that is not
        int8/uint8, or a context already using the f32 representation."""
        entry = self._context(ctx, "to_tensor")
        if not 0 <= index < len(entry.plans):
            raise _bad(f"to_tensor: input index {index} (model has {len(entry.plans)})")
        info = entry.plans[index].info
        if info.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            raise _bad(f"to_tensor: model input is {info.dtype}, not int8 or uint8")
        if quantizable(info) and entry.f32:
            raise _bad("to_tensor: a context uses one representation (u8 raw or f32) throughout")

        def set_value(value: np.ndarray) -> None:
            entry.ctx.set_input(index, value)
            if quantizable(info):
                entry.f32 = False
            entry.inputs_set.add(index)

        return info, set_value

    # -- helpers ---------------------------------------------------------------------------

    def _guard(self, what: str, run: Callable[[], None]) -> int:
        try:
            run()
        except Exception as e:
            return self._failed(what, e)
        return int(NnError.SUCCESS)

    def _failed(self, what: str, e: Exception) -> int:
        """The error code for an exception of an entry point (which never raises)."""
        if isinstance(e, NnFailure):
            self.last_error = f"{what}: {e}"
            log.info("wasi-nn %s -> %s: %s", what, e.code.name.lower(), e)
            return int(e.code)
        if isinstance(e, OutOfBounds):
            self.last_error = f"{what}: bad pointer: {e}"
            log.info("wasi-nn %s -> invalid_argument: %s", what, e)
            return int(NnError.INVALID_ARGUMENT)
        # a host bug must not unwind into the engine
        self.last_error = f"{what}: internal error: {e}"
        log.error("wasi-nn %s: internal error", what, exc_info=e)
        return int(NnError.RUNTIME_ERROR)

    def _context(self, ctx: int, what: str) -> _ContextEntry:
        entry = self.contexts.get(ctx)
        if entry is None:
            raise _bad(f"{what}: unknown context handle {ctx}")
        return entry

    def _check_graph_room(self) -> None:
        if len(self.graphs) >= self.max_graphs:
            raise NnFailure(NnError.BUSY, f"graph table full ({self.max_graphs})")

    def _add_graph(self, mem: GuestMemory, graph_out: int, load: Callable[[], LoadedGraph]) -> None:
        try:
            graph = load()
        except LoadFailure as e:
            raise NnFailure(_LOAD_CODES.get(e.kind, NnError.RUNTIME_ERROR), str(e)) from e
        handle = self._next_graph
        self._next_graph += 1
        self.graphs[handle] = graph
        mem.write_u32(graph_out, handle)

    def _load_named(
        self,
        mem: GuestMemory,
        name_ptr: int,
        name_len: int,
        backend: str | None,
        graph_out: int,
    ) -> None:
        name = mem.view(name_ptr, name_len).tobytes()
        if not valid_name(name):
            raise _bad(f"model name {name[:80]!r}: use 1-64 bytes of [A-Za-z0-9_.-]")
        mem.check(graph_out, 4)
        self._check_graph_room()
        self._add_graph(mem, graph_out, lambda: self.loader.load_named(name.decode(), backend))

    @staticmethod
    def _parse_config(raw: bytes) -> str | None:
        if not raw:
            return None
        try:
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _bad(f"config is not valid JSON: {e}") from e
        if not isinstance(config, dict):
            raise _bad("config must be a JSON object")
        backend = config.get("backend")
        if backend is not None and not isinstance(backend, str):
            raise _bad("config: 'backend' must be a string")
        return backend

    @staticmethod
    def _input_value(
        entry: _ContextEntry, plan: _InputPlan, ttype: int, data: np.ndarray
    ) -> np.ndarray:
        info = plan.info
        if quantizable(info) and ttype in (TYPE_U8, TYPE_F32):
            f32 = ttype == TYPE_F32
            if entry.f32 is not None and entry.f32 != f32:
                raise _bad(
                    "set_input: a context uses one representation (u8 raw or f32) throughout"
                )
            expected = plan.count * (4 if f32 else 1)
            if data.size != expected:
                raise _bad(f"set_input: data is {data.size} bytes, expected {expected}")
            entry.f32 = f32
            if f32:
                return quantize(data.view("<f4"), info).reshape(info.shape)
            return data.view(info.dtype).reshape(info.shape)
        want = _PLAIN_TYPES.get(info.dtype)
        if want is None or ttype != want:
            raise _bad(f"set_input: tensor type {ttype} does not fit a {info.dtype} input")
        expected = plan.count * info.dtype.itemsize
        if data.size != expected:
            raise _bad(f"set_input: data is {data.size} bytes, expected {expected}")
        return data.view(info.dtype).reshape(info.shape)
