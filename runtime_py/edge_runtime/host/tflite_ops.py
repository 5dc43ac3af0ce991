"""Operator-level checks of a structurally verified TFLite model (see tflite_check.py).

TFLM's kernels trust the shapes stored in the model: a FULLY_CONNECTED whose output says 254
rows makes the kernel read 254 rows of a 1-row input (out-of-bounds reads, different answers on
identical runs). So for the operators the project's models use, the stored output shape must be
the one the operator computes from its inputs and options, and options must be in their ranges
(strides, dilations, padding, activation). The rules are the ones `runtime_c/nn/builtin` applies
in `nnb_ops.c`. Other operators are left to the backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# BuiltinOperator codes (schema.fbs)
ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE = 0, 1, 3, 4, 6
FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, MUL, RELU, RELU6 = 9, 14, 17, 18, 19, 21
RESHAPE, SOFTMAX, TANH, SUB, QUANTIZE = 22, 25, 28, 41, 114

NAMES = {
    ADD: "ADD",
    AVERAGE_POOL_2D: "AVERAGE_POOL_2D",
    CONV_2D: "CONV_2D",
    DEPTHWISE_CONV_2D: "DEPTHWISE_CONV_2D",
    DEQUANTIZE: "DEQUANTIZE",
    FULLY_CONNECTED: "FULLY_CONNECTED",
    LOGISTIC: "LOGISTIC",
    MAX_POOL_2D: "MAX_POOL_2D",
    MUL: "MUL",
    RELU: "RELU",
    RELU6: "RELU6",
    RESHAPE: "RESHAPE",
    SOFTMAX: "SOFTMAX",
    TANH: "TANH",
    SUB: "SUB",
    QUANTIZE: "QUANTIZE",
}

# BuiltinOptions union types of these operators
CONV_OPTIONS, DWCONV_OPTIONS, POOL_OPTIONS, FC_OPTIONS = 1, 2, 5, 8
# Option tables: field id -> scalar size (signedness is applied where the value is read)
OPTION_TABLES: dict[str, dict[int, int]] = {
    "Conv2DOptions": {0: 1, 1: 4, 2: 4, 3: 1, 4: 4, 5: 4, 6: 1},
    "DepthwiseConv2DOptions": {0: 1, 1: 4, 2: 4, 3: 4, 4: 1, 5: 4, 6: 4},
    "Pool2DOptions": {0: 1, 1: 4, 2: 4, 3: 4, 4: 4, 5: 1},
    "SoftmaxOptions": {0: 4},
    "AddOptions": {0: 1, 1: 1},
    "MulOptions": {0: 1},
    "SubOptions": {0: 1, 1: 1},
}
OPTION_UNION = {
    1: "Conv2DOptions",
    2: "DepthwiseConv2DOptions",
    5: "Pool2DOptions",
    9: "SoftmaxOptions",
    11: "AddOptions",
    21: "MulOptions",
    28: "SubOptions",
}

MAX_ACTIVATION = 5  # NONE RELU RELU_N1_TO_1 RELU6 TANH SIGN_BIT
PADDING_SAME, PADDING_VALID = 0, 1


class OpError(ValueError):
    pass


def _s32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _s8(v: int) -> int:
    return v - 256 if v >= 128 else v


class Op:
    """One operator: code, tensor shapes of its inputs/outputs, its decoded options."""

    def __init__(
        self,
        code: int,
        index: int,
        inputs: list[list[int] | None],
        outputs: list[list[int]],
        options_type: int,
        options: dict[int, int],
    ) -> None:
        self.code = code
        self.index = index
        self.inputs = inputs
        self.outputs = outputs
        self.options_type = options_type
        self.options = options

    def fail(self, what: str) -> OpError:
        return OpError(f"{NAMES.get(self.code, self.code)} (operator {self.index}): {what}")

    def need(self, n_in: int, n_out: int = 1) -> None:
        if len(self.inputs) < n_in or len(self.outputs) < n_out:
            raise self.fail(f"needs {n_in} inputs and {n_out} output(s)")
        for i in range(n_in):
            if self.inputs[i] is None:
                raise self.fail(f"input {i} is missing")

    def opt(self, want_type: int, field_id: int, default: int, signed: int = 4) -> int:
        if self.options_type not in (0, want_type):
            raise self.fail("builtin options of the wrong type")
        raw = self.options.get(field_id)
        if raw is None:
            return default
        return _s32(raw) if signed == 4 else _s8(raw)

    def shape(self, i: int) -> list[int]:
        s = self.inputs[i]
        assert s is not None
        return s


def _count(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _activation(op: Op, act: int) -> None:
    if not 0 <= act <= MAX_ACTIVATION:
        raise op.fail(f"fused activation {act}")


def _spatial(op: Op, padding: int, size: int, k: int, stride: int, dil: int, out: int) -> None:
    eff = (k - 1) * dil + 1
    if padding == PADDING_SAME:
        want = (size + stride - 1) // stride
    elif padding == PADDING_VALID:
        want = (size + stride - eff) // stride
    else:
        raise op.fail(f"padding type {padding}")
    if want < 1:
        raise op.fail("filter larger than its input")
    if want != out:
        raise op.fail("output shape does not match the input and parameters")


def _positive(op: Op, **values: int) -> None:
    for name, v in values.items():
        if not 1 <= v <= 0xFFFF:
            raise op.fail(f"{name} {v} is not in 1..65535")


def _conv(op: Op) -> None:
    op.need(2)
    dw = op.code == DEPTHWISE_CONV_2D
    t = DWCONV_OPTIONS if dw else CONV_OPTIONS
    x, f, y = op.shape(0), op.shape(1), op.outputs[0]
    if len(x) != 4 or len(f) != 4 or len(y) != 4:
        raise op.fail("tensors must be 4-D")
    padding = op.opt(t, 0, 0, 1)
    sw, sh = op.opt(t, 1, 0), op.opt(t, 2, 0)
    act = op.opt(t, 4 if dw else 3, 0, 1)
    dil_w, dil_h = op.opt(t, 5 if dw else 4, 1), op.opt(t, 6 if dw else 5, 1)
    _positive(op, stride_w=sw, stride_h=sh, dilation_w=dil_w, dilation_h=dil_h)
    _activation(op, act)
    if y[0] != x[0]:
        raise op.fail("batch sizes differ")
    if dw:
        mult = op.opt(t, 3, 0)
        if f[0] != 1 or f[3] != y[3]:
            raise op.fail("filter shape")
        if mult < 1 or x[3] * mult != y[3]:
            raise op.fail("output channels != input channels * depth_multiplier")
    else:
        if f[0] != y[3]:
            raise op.fail("filter shape")
        if f[3] < 1 or x[3] % f[3] or y[3] % (x[3] // f[3]):
            raise op.fail("input channels vs filter depth")
    _spatial(op, padding, x[1], f[1], sh, dil_h, y[1])
    _spatial(op, padding, x[2], f[2], sw, dil_w, y[2])
    _bias(op, y[3])


def _bias(op: Op, channels: int) -> None:
    if len(op.inputs) > 2 and op.inputs[2] is not None and _count(op.shape(2)) != channels:
        raise op.fail("bias size does not match the channels")


def _pool(op: Op) -> None:
    op.need(1)
    x, y = op.shape(0), op.outputs[0]
    if len(x) != 4 or len(y) != 4:
        raise op.fail("tensors must be 4-D")
    padding = op.opt(POOL_OPTIONS, 0, 0, 1)
    sw, sh = op.opt(POOL_OPTIONS, 1, 0), op.opt(POOL_OPTIONS, 2, 0)
    kw, kh = op.opt(POOL_OPTIONS, 3, 0), op.opt(POOL_OPTIONS, 4, 0)
    _positive(op, stride_w=sw, stride_h=sh, filter_width=kw, filter_height=kh)
    _activation(op, op.opt(POOL_OPTIONS, 5, 0, 1))
    if y[0] != x[0] or y[3] != x[3]:
        raise op.fail("input and output shapes")
    _spatial(op, padding, x[1], kh, sh, 1, y[1])
    _spatial(op, padding, x[2], kw, sw, 1, y[2])


def _fc(op: Op) -> None:
    op.need(2)
    x, f, y = op.shape(0), op.shape(1), op.outputs[0]
    if len(f) != 2 or not y:
        raise op.fail("filter must be 2-D")
    _activation(op, op.opt(FC_OPTIONS, 0, 0, 1))
    rows, depth = f
    if depth < 1 or _count(x) % depth:
        raise op.fail("input size is not a multiple of the filter depth")
    if y[-1] != rows or _count(y) != _count(x) // depth * rows:
        raise op.fail("output shape does not match the input and filter")
    _bias(op, rows)


def _same_shape(op: Op) -> None:
    op.need(1)
    if op.outputs[0] != op.shape(0):
        raise op.fail("output shape differs from the input shape")


def _reshape(op: Op) -> None:
    op.need(1)
    if _count(op.outputs[0]) != _count(op.shape(0)):
        raise op.fail("reshape changes the element count")


def _broadcast(op: Op) -> None:
    op.need(2)
    a, b, y = op.shape(0), op.shape(1), op.outputs[0]
    n = max(len(a), len(b))
    a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
    want = []
    for da, db in zip(a, b, strict=True):
        if da != db and 1 not in (da, db):
            raise op.fail("input shapes do not broadcast")
        want.append(max(da, db) if 0 not in (da, db) else 0)
    if y != want:
        raise op.fail("output shape does not match the broadcast inputs")


RULES: dict[int, Callable[[Op], None]] = {
    CONV_2D: _conv,
    DEPTHWISE_CONV_2D: _conv,
    AVERAGE_POOL_2D: _pool,
    MAX_POOL_2D: _pool,
    FULLY_CONNECTED: _fc,
    RESHAPE: _reshape,
    SOFTMAX: _same_shape,
    LOGISTIC: _same_shape,
    TANH: _same_shape,
    RELU: _same_shape,
    RELU6: _same_shape,
    QUANTIZE: _same_shape,
    DEQUANTIZE: _same_shape,
    ADD: _broadcast,
    MUL: _broadcast,
    SUB: _broadcast,
}


def check_op(op: Op) -> None:
    rule = RULES.get(op.code)
    if rule is not None:
        rule(op)


def op_code(opcode_fields: Any) -> int:
    """The operator's builtin code: the larger of the deprecated (int8) and the int32 field."""
    deprecated = _s8(opcode_fields.get(0, 0))
    return max(deprecated, _s32(opcode_fields.get(3, 0)))
