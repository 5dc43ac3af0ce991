"""The legacy `wasi_nn` module (WAMR's pre-ephemeral ABI, imported by EVP/AITRIOS apps) for one
instance, as specified in docs/abi.md section 8.

It shares the instance's `wasi_ephemeral_nn` state (graph and context tables, handles, the f32
quantization): only the structures, the input representation and the output size differ.
"""

from __future__ import annotations

import struct

import numpy as np

from .memory import U32_MAX, GuestMemory
from .quant import dequantize, quantizable
from .wasi_nn import TYPE_F32, NnError, NnFailure, WasiNn, _bad

LEGACY_TENSOR_SIZE = 12
_LEGACY_TENSOR = struct.Struct("<IB3xI")  # dims_ptr -> {u32 buf, u32 size}, type, data_ptr
LEGACY_TYPE_FP16, LEGACY_TYPE_FP32, LEGACY_TYPE_UP8, LEGACY_TYPE_IP32 = range(4)
MODEL_SUFFIX = b".tflite"
MAX_DIMS = 8  # as the C runtime (RT_NN_MAX_DIMS)


def model_name_span(path: bytes) -> tuple[int, int]:
    """Where in a device path ("./models/x.tflite") the model store's name is: the last
    component without ".tflite", as (offset, length). A ".." component, which would leave the
    store (the only directory an instance is given), is refused."""
    if b".." in path.split(b"/"):
        raise _bad(f"model path {path[:80]!r}: '..' leaves the model store")
    start = path.rfind(b"/") + 1
    end = len(path)
    if end - start > len(MODEL_SUFFIX) and path.endswith(MODEL_SUFFIX):
        end -= len(MODEL_SUFFIX)
    return start, end - start


class WasiNnLegacy:
    """Entry points of the legacy module: (memory, i32 args...) -> wasi-nn error code."""

    def __init__(self, nn: WasiNn) -> None:
        self.nn = nn

    def load(
        self, mem: GuestMemory, builder_array: int, encoding: int, target: int, graph_out: int
    ) -> int:
        if not mem.ok(builder_array, 8):
            return int(NnError.INVALID_ARGUMENT)
        builders, count = mem.u32(builder_array), mem.u32(builder_array + 4)
        return self.nn.load(mem, builders, count, encoding, target, graph_out)

    def load_by_name(self, mem: GuestMemory, name_ptr: int, name_len: int, graph_out: int) -> int:
        span: list[tuple[int, int]] = []

        def run() -> None:
            span.append(model_name_span(mem.view(name_ptr, name_len).tobytes()))

        err = self.nn._guard("load_by_name", run)
        if err:
            return err
        offset, length = span[0]
        return self.nn.load_by_name(mem, name_ptr + offset, length, graph_out)

    def init_execution_context(self, mem: GuestMemory, graph: int, ctx_out: int) -> int:
        return self.nn.init_execution_context(mem, graph, ctx_out)

    def set_input(self, mem: GuestMemory, ctx: int, index: int, tensor_ptr: int) -> int:
        nn = self.nn

        def run() -> None:
            entry = nn._context(ctx, "set_input")
            if not 0 <= index < len(entry.plans):
                raise _bad(f"set_input: input index {index} (model has {len(entry.plans)})")
            plan = entry.plans[index]
            mem.check(tensor_ptr, LEGACY_TENSOR_SIZE)
            dims_ptr, ttype, data_ptr = _LEGACY_TENSOR.unpack_from(mem.bytes.data, tensor_ptr)
            buf, rank = mem.u32(dims_ptr), mem.u32(dims_ptr + 4)
            if ttype != LEGACY_TYPE_FP32:
                raise _bad(f"set_input: legacy tensor type {ttype}; the input is always fp32 (1)")
            if rank > MAX_DIMS:
                raise _bad(f"set_input: {rank} dimensions (at most {MAX_DIMS})")
            dims = mem.view(buf, 4 * rank)
            if dims.tobytes() != plan.shape:
                raise _bad(
                    f"set_input: dims {dims.view('<u4').tolist()} != model input "
                    f"{list(plan.info.shape)}"
                )
            # No data length in the legacy tensor: prod(dims) f32 values.
            count = int(np.prod(dims.view("<u4").astype(np.uint64), dtype=np.uint64))
            data = mem.view(data_ptr, 4 * count)
            value = nn._input_value(entry, plan, TYPE_F32, data)
            if plan.sink is not None:  # the backend's own input storage, as wasi_nn.py does
                plan.sink.view(value.dtype)[:] = value.reshape(-1)
            else:
                entry.ctx.set_input(index, value)
            entry.inputs_set.add(index)

        return nn._guard("set_input", run)

    def compute(self, mem: GuestMemory, ctx: int) -> int:
        return self.nn.compute(mem, ctx)

    def get_output(
        self, mem: GuestMemory, ctx: int, index: int, out_ptr: int, size_ptr: int
    ) -> int:
        nn = self.nn

        def run() -> None:
            entry = nn._context(ctx, "get_output")
            outputs = entry.graph.graph.outputs
            mem.check(size_ptr, 4)
            if not 0 <= index < len(outputs):
                raise _bad(f"get_output: output index {index} (model has {len(outputs)})")
            if not entry.computed:
                raise _bad("get_output: no successful compute on this context yet")
            info = outputs[index]
            f32 = bool(entry.f32) and quantizable(info)
            if not f32 and info.dtype != np.float32:
                raise NnFailure(
                    NnError.UNSUPPORTED_OPERATION,
                    f"get_output: output {index} is {info.dtype}, neither float32 nor quantized",
                )
            # *size counts f32 elements, in and out (docs/abi.md section 8).
            max_len = min(4 * mem.u32(size_ptr), U32_MAX)
            nbytes = 4 * int(info.size)
            if nbytes > max_len:
                raise NnFailure(
                    NnError.TOO_LARGE,
                    f"get_output: output is {nbytes // 4} f32 values, buffer {max_len // 4}",
                )
            mem.check(out_ptr, nbytes)
            value = entry.ctx.get_output(index)
            if f32:
                value = dequantize(value, info)
            mem.write(out_ptr, np.ascontiguousarray(value, dtype="<f4"))
            mem.write_u32(size_ptr, nbytes // 4)

        return nn._guard("get_output", run)
