"""The TFLM backend's operator set, derived from a target's models at build time.

`OPS` is the one table of the TFLite builtin operators the tflm backend can register: per
operator its `MicroMutableOpResolver` method and the kernel sources (relative to TFLM's
`tensorflow/lite/micro/kernels/`) that implement it. Operators ESP-NN accelerates come from
`kernels/esp_nn/` (built over ESP-NN's plain-C kernels), the rest from TFLM's reference kernels.

`generate` reads the operator codes of the models a target embeds and writes two files into the
runtime's `gen` directory: `rt_tflm_ops.h` (the resolver's `RT_TFLM_OP(NAME, code, Method)`
list) and `rt_tflm.cmake` (for runtime_c/nn/tflm/component.cmake: `RT_TFLM_KERNELS`, only the
kernels those operators need). An operator of a model that is not in the table is left out with a
warning: loading that model answers `unsupported_operation` naming it.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildToolsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TflmOp:
    code: int  # TFLite BuiltinOperator
    method: str  # MicroMutableOpResolver::<method>()
    kernels: tuple[str, ...]  # under tensorflow/lite/micro/kernels/


OPS: dict[str, TflmOp] = {
    "ADD": TflmOp(0, "AddAdd", ("esp_nn/add.cc", "add_common.cc")),
    "AVERAGE_POOL_2D": TflmOp(1, "AddAveragePool2D", ("esp_nn/pooling.cc", "pooling_common.cc")),
    "CONV_2D": TflmOp(3, "AddConv2D", ("esp_nn/conv.cc", "conv_common.cc")),
    "DEPTHWISE_CONV_2D": TflmOp(
        4, "AddDepthwiseConv2D", ("esp_nn/depthwise_conv.cc", "depthwise_conv_common.cc")
    ),
    "DEQUANTIZE": TflmOp(6, "AddDequantize", ("dequantize.cc", "dequantize_common.cc")),
    "FULLY_CONNECTED": TflmOp(
        9, "AddFullyConnected", ("esp_nn/fully_connected.cc", "fully_connected_common.cc")
    ),
    "LOGISTIC": TflmOp(14, "AddLogistic", ("logistic.cc", "logistic_common.cc")),
    "MAX_POOL_2D": TflmOp(17, "AddMaxPool2D", ("esp_nn/pooling.cc", "pooling_common.cc")),
    "MUL": TflmOp(18, "AddMul", ("esp_nn/mul.cc", "mul_common.cc")),
    "RESHAPE": TflmOp(22, "AddReshape", ("reshape.cc", "reshape_common.cc")),
    "SOFTMAX": TflmOp(25, "AddSoftmax", ("esp_nn/softmax.cc", "softmax_common.cc")),
    "QUANTIZE": TflmOp(114, "AddQuantize", ("quantize.cc", "quantize_common.cc")),
}
_BY_CODE = {op.code: name for name, op in OPS.items()}

# Model.operator_codes = field 1; OperatorCode.deprecated_builtin_code = 0, builtin_code = 3.
_OPERATOR_CODES, _DEPRECATED_CODE, _BUILTIN_CODE = 1, 0, 3
_PLACEHOLDER_FOR_GREATER_OP_CODES = 127


def _u32(b: bytes, pos: int) -> int:
    if pos < 0 or pos + 4 > len(b):
        raise ValueError(f"offset {pos} outside the {len(b)}-byte model")
    return int(struct.unpack_from("<I", b, pos)[0])


def _field(b: bytes, table: int, field_id: int) -> int | None:
    vtable = table - struct.unpack_from("<i", b, table)[0]
    vt_size = struct.unpack_from("<H", b, vtable)[0]
    if 4 + 2 * field_id + 2 > vt_size:
        return None
    off = struct.unpack_from("<H", b, vtable + 4 + 2 * field_id)[0]
    return table + off if off else None


def operator_codes(model: bytes) -> list[int]:
    """The builtin operator codes of a TFLite model's operator_codes table (schema v3)."""
    try:
        root = _u32(model, 0)
        pos = _field(model, root, _OPERATOR_CODES)
        if pos is None:
            return []
        start = pos + _u32(model, pos)
        codes = []
        for i in range(_u32(model, start)):
            entry = start + 4 + 4 * i
            table = entry + _u32(model, entry)
            dep = _field(model, table, _DEPRECATED_CODE)
            new = _field(model, table, _BUILTIN_CODE)
            deprecated = model[dep] if dep is not None else 0
            code = struct.unpack_from("<i", model, new)[0] if new is not None else 0
            # schema_utils.cc GetBuiltinCode: the larger of the two fields.
            codes.append(max(code, deprecated))
        return codes
    except (ValueError, struct.error, IndexError) as e:
        raise BuildToolsError(f"cannot read the operator codes of a model: {e}") from e


def ops_for_models(models: Iterable[tuple[str, bytes]]) -> list[str]:
    """Names (sorted by code) of the table's operators the models use; warns about the rest."""
    used: set[int] = set()
    for name, data in models:
        for code in operator_codes(data):
            if code not in _BY_CODE and code not in used:
                log.warning(
                    "model %s: operator %d has no TFLM kernel in build_tools/tflm_ops.py: "
                    "loading it answers unsupported_operation",
                    name,
                    code,
                )
            used.add(code)
    return [_BY_CODE[c] for c in sorted(used) if c in _BY_CODE]


def ops_header(ops: list[str]) -> str:
    lines = [
        "/* Generated by build_tools/tflm_ops.py from the target's models. Do not edit. */",
        f"#define RT_TFLM_OP_COUNT {max(len(ops), 1)}",
        "#define RT_TFLM_OPS(RT_TFLM_OP) \\",
    ]
    lines += [f"    RT_TFLM_OP({name}, {OPS[name].code}, {OPS[name].method}) \\" for name in ops]
    lines.append("    /* end */")
    return "\n".join(lines) + "\n"


def tflm_cmake(ops: list[str]) -> str:
    kernels = sorted({k for name in ops for k in OPS[name].kernels})
    lines = [
        "# Generated by build_tools/tflm_ops.py from the target's models. Do not edit.",
        "set(RT_TFLM_KERNELS",
        *[f"  {k}" for k in kernels],
        ")",
    ]
    return "\n".join(lines) + "\n"


def generate(models: Iterable[tuple[str, bytes]], out: Path) -> list[str]:
    """Writes rt_tflm_ops.h and rt_tflm.cmake into `out`; returns the operator names."""
    ops = ops_for_models(models)
    for name, text in (
        ("rt_tflm_ops.h", ops_header(ops)),
        ("rt_tflm.cmake", tflm_cmake(ops)),
    ):
        path = out / name
        if not (path.exists() and path.read_text() == text):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return ops
