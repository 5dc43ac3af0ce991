"""Complete verification of TFLite flatbuffers before any backend sees them.

TFLM (and the Python readers of the TFLite packages) read a model without checking it: one bad
byte can crash the host process or make inference read outside a buffer. So every model is
verified here first, like `runtime_c/nn/builtin/nnb_fb.c` does in C:

- structure: every table (vtable position, vtable and table size inside the buffer), every field
  inside its table, every offset, vector (length x element size) and string (zero-terminated,
  UTF-8) inside the buffer, every union member a table — for the whole schema reachable from the
  root (schema.fbs, TFLite schema version 3), and no reference cycles through tables;
- meaning: schema version 3, at least one subgraph, operator code / tensor / buffer / subgraph
  indices in range, known tensor types, non-negative shapes of bounded size, constant buffers
  exactly as large as their tensor's shape says, quantization vectors consistent (scale and
  zero-point counts), metadata buffers in range, no tensor
  written by two operators and no operator reading a tensor no earlier operator or the graph
  wrote (TFLM's memory planner needs both).

`check_tflite` raises `MalformedModel` (wasi-nn `invalid_encoding`) naming the first fault.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .tflite_ops import OPTION_TABLES, OPTION_UNION, Op, OpError, check_op, op_code

IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
MAX_TENSOR_BYTES = 1 << 31  # a shape whose bytes exceed this is damage, not a model
MAX_DEPTH = 64
OFFLINE_PLAN = "OfflineMemoryAllocation"

_U8, _U16, _I32, _U32, _I64 = (
    struct.Struct("<B"),
    struct.Struct("<H"),
    struct.Struct("<i"),
    struct.Struct("<I"),
    struct.Struct("<q"),
)

# TensorType -> bytes per element (0: not a fixed-size element, e.g. STRING, RESOURCE, VARIANT,
# or packed sub-byte types, whose buffer size is not checked against the shape).
TYPE_SIZES = {
    0: 4,  # FLOAT32
    1: 2,  # FLOAT16
    2: 4,  # INT32
    3: 1,  # UINT8
    4: 8,  # INT64
    5: 0,  # STRING
    6: 1,  # BOOL
    7: 2,  # INT16
    8: 8,  # COMPLEX64
    9: 1,  # INT8
    10: 8,  # FLOAT64
    11: 16,  # COMPLEX128
    12: 8,  # UINT64
    13: 0,  # RESOURCE
    14: 0,  # VARIANT
    15: 4,  # UINT32
    16: 2,  # UINT16
    17: 0,  # INT4 (packed)
    18: 2,  # BFLOAT16
    19: 0,  # INT2 (packed)
    20: 0,  # UINT4 (packed)
    21: 1,  # FLOAT8_E4M3FN
    22: 1,  # FLOAT8_E5M2
}


_ZERO_POINT_RANGES = {9: (-128, 127), 3: (0, 255), 7: (-32768, 32767)}  # INT8, UINT8, INT16


class MalformedModel(ValueError):
    pass


# -- the schema, as far as verification needs it ------------------------------------------------
# A table is {field id: kind}. Kinds: a scalar size (1, 2, 4, 8); "str"; ("vec", element size);
# ("tables", table name) a vector of tables; ("table", name); ("union", union name) whose type
# field is the id before it. Fields not listed are checked as scalars of unknown size (inside the
# table); unknown union members are checked as tables of scalars.

Kind = int | str | tuple[str, str] | tuple[str, int]

_TABLES: dict[str, dict[int, Kind]] = {
    "Model": {
        0: 4,
        1: ("tables", "OperatorCode"),
        2: ("tables", "SubGraph"),
        3: "str",
        4: ("tables", "Buffer"),
        5: ("vec", 4),
        6: ("tables", "Metadata"),
        7: ("tables", "SignatureDef"),
        8: ("tables", "ExternalBufferGroup"),
        9: ("tables", "ExternalBuffer"),
    },
    "OperatorCode": {0: 1, 1: "str", 2: 4, 3: 4},
    "SubGraph": {
        0: ("tables", "Tensor"),
        1: ("vec", 4),
        2: ("vec", 4),
        3: ("tables", "Operator"),
        4: "str",
        5: 4,
    },
    "Tensor": {
        0: ("vec", 4),
        1: 1,
        2: 4,
        3: "str",
        4: ("table", "QuantizationParameters"),
        5: 1,
        6: ("table", "SparsityParameters"),
        7: ("vec", 4),
        8: 1,
        9: ("tables", "VariantSubType"),
        10: 4,
    },
    "QuantizationParameters": {
        0: ("vec", 4),
        1: ("vec", 4),
        2: ("vec", 4),
        3: ("vec", 8),
        4: 1,
        5: ("union", "QuantizationDetails"),
        6: 4,
    },
    "CustomQuantization": {0: ("vec", 1)},
    "SparsityParameters": {0: ("vec", 4), 1: ("vec", 4), 2: ("tables", "DimensionMetadata")},
    "DimensionMetadata": {
        0: 1,
        1: 4,
        2: 1,
        3: ("union", "SparseIndexVector"),
        4: 1,
        5: ("union", "SparseIndexVector"),
    },
    "Int32Vector": {0: ("vec", 4)},
    "Uint16Vector": {0: ("vec", 2)},
    "Uint8Vector": {0: ("vec", 1)},
    "VariantSubType": {0: ("vec", 4), 1: 1, 2: 1},
    "Operator": {
        0: 4,
        1: ("vec", 4),
        2: ("vec", 4),
        3: 1,
        4: ("union", "BuiltinOptions"),
        5: ("vec", 1),
        6: 1,
        7: ("vec", 1),
        8: ("vec", 4),
        9: 8,
        10: 8,
        11: 1,
        12: ("union", "BuiltinOptions2"),
        13: 4,
    },
    "Buffer": {0: ("vec", 1), 1: 8, 2: 8},
    "Metadata": {0: "str", 1: 4},
    "SignatureDef": {
        0: ("tables", "TensorMap"),
        1: ("tables", "TensorMap"),
        2: "str",
        3: "str",
        4: 4,
    },
    "TensorMap": {0: "str", 1: 4},
    "ExternalBufferGroup": {0: "str"},
    "ExternalBuffer": {0: 4, 1: 4, 2: 8, 3: 8, 4: "str"},
    # BuiltinOptions members with offsets (all others hold scalars only)
    "ConcatEmbeddingsOptions": {0: 4, 1: ("vec", 4), 2: ("vec", 4)},
    "FullyConnectedOptions": {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: ("vec", 1)},
    "ReshapeOptions": {0: ("vec", 4)},
    "SqueezeOptions": {0: ("vec", 4)},
    "VarHandleOptions": {0: "str", 1: "str"},
    "BucketizeOptions": {0: ("vec", 4)},
    "StableHLOCompositeOptions": {0: "str", 1: 4, 2: ("vec", 1), 3: 1, 4: 4},
}
_TABLES.update({name: {k: v for k, v in fields.items()} for name, fields in OPTION_TABLES.items()})

# union name -> {type value: member table}; members not named here are tables of scalars
_UNIONS: dict[str, dict[int, str]] = {
    "QuantizationDetails": {1: "CustomQuantization"},
    "SparseIndexVector": {1: "Int32Vector", 2: "Uint16Vector", 3: "Uint8Vector"},
    "BuiltinOptions": {
        3: "ConcatEmbeddingsOptions",
        8: "FullyConnectedOptions",
        17: "ReshapeOptions",
        30: "SqueezeOptions",
        111: "VarHandleOptions",
        115: "BucketizeOptions",
        **OPTION_UNION,
    },
    "BuiltinOptions2": {21: "StableHLOCompositeOptions"},
}
_SCALARS_ONLY: dict[int, Kind] = {}
# StableHLO option tables (BuiltinOptions2) hold int64 vectors; their fields are not listed above,
# so a model using them is refused rather than trusted.
_OPAQUE_UNIONS = {"BuiltinOptions2"}


@dataclass
class _Table:
    """A verified table: field id -> decoded value (scalars as int, strings as str, vectors of
    scalars as (position, count), vectors of tables and tables as _Table objects)."""

    pos: int
    fields: dict[int, Any] = field(default_factory=dict)

    def get(self, field_id: int, default: Any = None) -> Any:
        return self.fields.get(field_id, default)


class _Verifier:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.active: set[int] = set()  # tables on the current path (cycle check)

    def fail(self, what: str, pos: int) -> MalformedModel:
        return MalformedModel(f"{what} at byte {pos}")

    def need(self, pos: int, n: int, what: str) -> None:
        if pos < 0 or n < 0 or pos + n > self.size:
            raise self.fail(f"{what} outside the {self.size}-byte model", pos)

    def u32(self, pos: int) -> int:
        return int(_U32.unpack_from(self.data, pos)[0])

    def follow(self, pos: int, what: str) -> int:
        """The uoffset stored at `pos` (already in bounds), checked to stay inside the model."""
        target = pos + self.u32(pos)
        self.need(target, 4, what)
        return target

    def vector(self, pos: int, elem: int, what: str) -> tuple[int, int]:
        start = self.follow(pos, what)
        if start % 4:
            raise self.fail(f"{what}: misaligned vector", start)
        count = self.u32(start)
        self.need(start + 4, count * elem, f"{what}: vector of {count}")
        return start + 4, count

    def string(self, pos: int, what: str) -> str:
        start, count = self.vector(pos, 1, what)
        self.need(start, count + 1, f"{what}: string terminator")
        if self.data[start + count] != 0:
            raise self.fail(f"{what}: string is not zero-terminated", start)
        try:
            return self.data[start : start + count].decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail(f"{what}: string is not UTF-8", start) from e

    def table(self, pos: int, name: str, depth: int = 0) -> _Table:
        if depth > MAX_DEPTH:
            raise self.fail(f"{name}: nested too deep", pos)
        self.need(pos, 4, f"{name} table")
        if pos % 4:
            raise self.fail(f"{name}: misaligned table", pos)
        if pos in self.active:
            raise self.fail(f"{name}: table refers to itself", pos)
        vt = pos - int(_I32.unpack_from(self.data, pos)[0])
        self.need(vt, 4, f"{name} vtable")
        if vt % 2:
            raise self.fail(f"{name}: misaligned vtable", vt)
        vt_size, t_size = _U16.unpack_from(self.data, vt)[0], _U16.unpack_from(self.data, vt + 2)[0]
        if vt_size < 4 or vt_size % 2:
            raise self.fail(f"{name}: bad vtable size {vt_size}", vt)
        self.need(vt, vt_size, f"{name} vtable")
        if t_size < 4:
            raise self.fail(f"{name}: bad table size {t_size}", pos)
        self.need(pos, t_size, f"{name} table")
        schema = _TABLES.get(name, _SCALARS_ONLY)
        out = _Table(pos)
        self.active.add(pos)
        try:
            for field_id in range((vt_size - 4) // 2):
                off = _U16.unpack_from(self.data, vt + 4 + 2 * field_id)[0]
                if off == 0:
                    continue
                kind = schema.get(field_id, 1)
                size = kind if isinstance(kind, int) else 4
                if off < 4 or off + size > t_size:
                    raise self.fail(f"{name} field {field_id} outside its table", pos)
                out.fields[field_id] = self.value(
                    pos + off, kind, f"{name}.{field_id}", out, field_id, depth
                )
        finally:
            self.active.discard(pos)
        return out

    def value(self, p: int, kind: Kind, what: str, table: _Table, field_id: int, depth: int) -> Any:
        if isinstance(kind, int):
            return int.from_bytes(self.data[p : p + kind], "little")
        if isinstance(kind, str):
            return self.string(p, what)
        tag, arg = kind
        if tag == "vec":
            assert isinstance(arg, int)
            return self.vector(p, arg, what)
        assert isinstance(arg, str)
        if tag == "table":
            return self.table(self.follow(p, what), arg, depth + 1)
        if tag == "tables":
            start, count = self.vector(p, 4, what)
            return [
                self.table(self.follow(start + 4 * i, what), arg, depth + 1) for i in range(count)
            ]
        # union: the type is the (1-byte) field just before
        member_type = table.get(field_id - 1, 0)
        if member_type == 0:  # NONE: the value is ignored (as flatbuffers' verifier does)
            return None
        if arg in _OPAQUE_UNIONS and member_type not in _UNIONS[arg]:
            raise self.fail(f"{what}: unsupported union member {member_type}", p)
        member = _UNIONS[arg].get(member_type, f"{arg}#{member_type}")
        return self.table(self.follow(p, what), member, depth + 1)

    def ints(self, vec: tuple[int, int] | None, fmt: str = "i") -> list[int]:
        if vec is None:
            return []
        start, count = vec
        return list(struct.unpack_from(f"<{count}{fmt}", self.data, start))


@dataclass(frozen=True)
class ModelSummary:
    """What the loader and backends need from a verified model."""

    inputs: tuple[int, ...]  # first subgraph's input tensor indices
    outputs: tuple[int, ...]
    operators: tuple[tuple[int, tuple[int, ...]], ...]  # first subgraph: (builtin code, inputs)

    def operator_reading(self, tensor: int) -> tuple[int, int] | None:
        """(operator index, builtin code) of the first operator that reads `tensor`."""
        for i, (code, inputs) in enumerate(self.operators):
            if tensor in inputs:
                return i, code
        return None


def verify_tflite(model: bytes) -> ModelSummary:
    """Raises MalformedModel with the reason when `model` is not a valid TFLite flatbuffer."""
    if len(model) < 8:
        raise MalformedModel(f"{len(model)} bytes is too short for a flatbuffer")
    if model[4:8] != IDENTIFIER:
        raise MalformedModel(f"file identifier is {model[4:8]!r}, expected {IDENTIFIER!r}")
    if len(model) >= 1 << 31:
        raise MalformedModel("a flatbuffer is below 2 GiB")
    v = _Verifier(model)
    root = v.table(v.follow(0, "root table"), "Model")
    if root.get(0, 0) != SCHEMA_VERSION:
        raise MalformedModel(f"schema version {root.get(0, 0)}, expected {SCHEMA_VERSION}")
    opcodes: list[_Table] = root.get(1, [])
    subgraphs: list[_Table] = root.get(2, [])
    buffers: list[_Table] = root.get(4, [])
    if not subgraphs:
        raise MalformedModel("no subgraphs")
    for i, b in enumerate(buffers):
        off, size = b.get(1, 0), b.get(2, 0)
        if off > 1 and (off > len(model) or size > len(model) - off):
            raise MalformedModel(f"buffer {i}: data [{off}, +{size}) outside the model")
    codes = [op_code(oc.fields) for oc in opcodes]
    for i, sg in enumerate(subgraphs):
        _check_subgraph(v, i, sg, codes, buffers, len(subgraphs))
    for m in root.get(6, []):
        if m.get(1, 0) >= len(buffers):
            raise MalformedModel(f"metadata {m.get(0, '')!r}: buffer {m.get(1, 0)} out of range")
        if m.get(0) == OFFLINE_PLAN:
            _check_offline_plan(v, buffers[m.get(1, 0)], subgraphs)
    for i in v.ints(root.get(5)):
        if not 0 <= i < len(buffers):
            raise MalformedModel(f"metadata_buffer: buffer {i} out of range")
    for sig in root.get(7, []):
        sg_index = sig.get(4, 0)
        if sg_index >= len(subgraphs):
            raise MalformedModel(f"signature: subgraph {sg_index} out of range")
        n = len(subgraphs[sg_index].get(0, []))
        for tm in [*sig.get(0, []), *sig.get(1, [])]:
            if tm.get(1, 0) >= n:
                raise MalformedModel(f"signature: tensor {tm.get(1, 0)} out of range")
    first = subgraphs[0]
    ops = tuple((codes[op.get(0, 0)], tuple(v.ints(op.get(1)))) for op in first.get(3, []))
    return ModelSummary(tuple(v.ints(first.get(1))), tuple(v.ints(first.get(2))), ops)


def _check_subgraph(
    v: _Verifier, index: int, sg: _Table, codes: list[int], buffers: list[_Table], n_subgraphs: int
) -> None:
    where = f"subgraph {index}"
    n_opcodes = len(codes)
    tensors: list[_Table] = sg.get(0, [])
    shapes = [v.ints(t.get(0)) for t in tensors]
    n = len(tensors)
    written = [False] * n
    for t, tensor in enumerate(tensors):
        _check_tensor(v, f"{where} tensor {t}", tensor, buffers)
        buffer = buffers[tensor.get(2, 0)] if buffers else None
        if tensor.get(5, 0) or (buffer is not None and _buffer_bytes(buffer) > 0):
            written[t] = True  # variables and constants are defined before any operator
        elif 0 in v.ints(tensor.get(0)):
            written[t] = True  # empty tensors hold nothing to write
    for what, field_id in (("input", 1), ("output", 2)):
        for t in v.ints(sg.get(field_id)):
            if not 0 <= t < n:
                raise MalformedModel(f"{where}: graph {what} tensor {t} out of range ({n})")
    for t in v.ints(sg.get(1)):
        written[t] = True
    for i, op in enumerate(sg.get(3, [])):
        opw = f"{where} operator {i}"
        if op.get(0, 0) >= n_opcodes:
            raise MalformedModel(f"{opw}: operator code {op.get(0, 0)} out of range ({n_opcodes})")
        for t in v.ints(op.get(1)) + v.ints(op.get(8)):
            if t != -1 and not 0 <= t < n:
                raise MalformedModel(f"{opw}: tensor {t} out of range ({n})")
        for t in v.ints(op.get(1)):
            if t != -1 and not written[t]:
                raise MalformedModel(f"{opw}: reads tensor {t} before anything writes it")
        outs = v.ints(op.get(2))
        for t in outs:
            if not 0 <= t < n:
                raise MalformedModel(f"{opw}: tensor {t} out of range ({n})")
            if written[t] and not tensors[t].get(5, 0):  # variables are updated in place
                raise MalformedModel(f"{opw}: writes tensor {t}, which is already defined")
            written[t] = True
        if op.get(7) is not None and op.get(7)[1] > len(v.ints(op.get(1))):
            raise MalformedModel(f"{opw}: more mutating-variable flags than inputs")
        if op.get(9, 0) or op.get(10, 0):
            off, size = op.get(9, 0), op.get(10, 0)
            if off > v.size or size > v.size - off:
                raise MalformedModel(f"{opw}: custom options outside the model")
        _check_subgraph_indices(opw, op, n_subgraphs)
        options = op.get(4)
        try:
            check_op(
                Op(
                    codes[op.get(0, 0)],
                    i,
                    [None if t == -1 else shapes[t] for t in v.ints(op.get(1))],
                    [shapes[t] for t in outs],
                    op.get(3, 0),
                    options.fields if options is not None else {},
                )
            )
        except OpError as e:
            raise MalformedModel(f"{where}: {e}") from e
    for t in v.ints(sg.get(2)):
        if not written[t]:
            raise MalformedModel(f"{where}: graph output tensor {t} is never written")


# Builtin option fields that name subgraphs: union type -> field ids (IfOptions, WhileOptions,
# CallOnceOptions, StableHLO composite is BuiltinOptions2).
_SUBGRAPH_FIELDS = {77: (0, 1), 78: (0, 1), 108: (0,)}


def _check_subgraph_indices(where: str, op: _Table, n_subgraphs: int) -> None:
    options = op.get(4)
    for field_id in _SUBGRAPH_FIELDS.get(op.get(3, 0), ()):
        value = options.get(field_id, 0) if options is not None else 0
        if value >= n_subgraphs:
            raise MalformedModel(f"{where}: subgraph {value} out of range ({n_subgraphs})")


def _buffer_bytes(buffer: _Table) -> int:
    data = buffer.get(0)
    if data is not None and data[1] > 0:
        return int(data[1])
    return int(buffer.get(2, 0)) if buffer.get(1, 0) > 1 else 0


def _check_tensor(v: _Verifier, where: str, t: _Table, buffers: list[_Table]) -> None:
    ttype = t.get(1, 0)
    if ttype not in TYPE_SIZES:
        raise MalformedModel(f"{where}: unknown tensor type {ttype}")
    shape = v.ints(t.get(0))
    count = 1
    for d in shape:
        if d < 0:
            raise MalformedModel(f"{where}: negative dimension {d}")
        count *= d
    elem = TYPE_SIZES[ttype]
    if count * max(elem, 1) >= MAX_TENSOR_BYTES:
        raise MalformedModel(f"{where}: shape {shape} is too large")
    b = t.get(2, 0)
    if b >= len(buffers):
        raise MalformedModel(f"{where}: buffer {b} out of range ({len(buffers)})")
    have = _buffer_bytes(buffers[b])
    if have and elem and have != count * elem:
        raise MalformedModel(
            f"{where}: buffer has {have} bytes, shape {shape} needs {count * elem}"
        )
    q: _Table | None = t.get(4)
    if q is None:
        return
    scales = q.get(2)
    zero_points = q.get(3)
    n_scales = scales[1] if scales else 0
    n_zps = zero_points[1] if zero_points else 0
    if n_scales and n_zps and n_zps != n_scales:
        raise MalformedModel(f"{where}: {n_scales} scales but {n_zps} zero points")
    for scale in struct.unpack_from(f"<{n_scales}f", v.data, scales[0]) if n_scales else ():
        if not 0.0 < scale < float("inf"):
            raise MalformedModel(f"{where}: quantization scale {scale} is not finite and > 0")
    limits = _ZERO_POINT_RANGES.get(ttype)
    if limits is not None and n_zps:
        for zp in struct.unpack_from(f"<{n_zps}q", v.data, zero_points[0]):
            if not limits[0] <= zp <= limits[1]:
                raise MalformedModel(f"{where}: zero point {zp} outside the type's range")
    # The quantized dimension is not checked against the shape: real models (person_detect)
    # carry an out-of-range one on bias tensors, which TFLM ignores and LiteRT refuses itself.


def _check_offline_plan(v: _Verifier, buffer: _Table, subgraphs: list[_Table]) -> None:
    """TFLM reads [version, subgraph, tensor count, offsets...] without checking the count."""
    data = buffer.get(0)
    words = v.ints((data[0], data[1] // 4)) if data is not None else []
    n = sum(len(sg.get(0, [])) for sg in subgraphs)
    if len(words) < 3 or words[2] != n or len(words) != 3 + n:
        raise MalformedModel(f"{OFFLINE_PLAN}: plan does not cover the model's {n} tensors")


def check_tflite(model: bytes) -> None:
    """Raises MalformedModel with the reason when `model` is not a usable TFLite flatbuffer."""
    verify_tflite(model)


def io_counts(model: bytes) -> tuple[int, int]:
    """(inputs, outputs) of the first subgraph of a model."""
    summary = verify_tflite(model)
    return len(summary.inputs), len(summary.outputs)
