"""Writes tiny TFLite models by hand (no TensorFlow): the schema's generated Python object API
(shipped by the tflite-micro and ai-edge-litert packages) plus the `flatbuffers` builder.

Used by the tests (ops no shared model exercises) and by `python -m tests.nn_builtin.tflite_gen
DIR`, which writes the fuzzing seed corpus (tests/corpus/model/).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def schema() -> ModuleType:
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s
    except ImportError:
        from ai_edge_litert import schema_py_generated as s  # aarch64 has no tflite-micro
    return s


# TensorType numbering
FLOAT32, INT32, UINT8, INT8 = 0, 2, 3, 9
NP = {FLOAT32: np.float32, INT32: np.int32, UINT8: np.uint8, INT8: np.int8}

# BuiltinOperator codes used here
ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE = 0, 1, 3, 4, 6
FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D, RESHAPE, SOFTMAX = 9, 14, 17, 22, 25
TANH, QUANTIZE = 28, 114

# ActivationFunctionType, Padding
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3
SAME, VALID = 0, 1


@dataclass
class ModelBuilder:
    """Collects tensors and operators of one subgraph; `build()` returns the .tflite bytes."""

    tensors: list[Any] = field(default_factory=list)
    buffers: list[Any] = field(default_factory=list)
    ops: list[Any] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.s = schema()
        self.buffers.append(self.s.BufferT())  # buffer 0: the empty sentinel

    def tensor(
        self,
        shape: list[int],
        dtype: int,
        scale: float | list[float] | None = None,
        zero_point: int | list[int] = 0,
        data: np.ndarray | None = None,
        qdim: int = 0,
        name: str = "",
    ) -> int:
        s = self.s
        t = s.TensorT()
        t.shape = list(shape)
        t.type = dtype
        t.name = name or f"t{len(self.tensors)}"
        t.buffer = 0
        if data is not None:
            buf = s.BufferT()
            arr = np.ascontiguousarray(np.asarray(data, dtype=NP[dtype]).reshape(shape))
            buf.data = list(arr.tobytes())
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            scales = scale if isinstance(scale, list) else [scale]
            q.scale = [float(x) for x in scales]
            zps = zero_point if isinstance(zero_point, list) else [zero_point] * len(scales)
            q.zeroPoint = [int(z) for z in zps]
            q.quantizedDimension = qdim
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(
        self,
        code: int,
        inputs: list[int],
        outputs: list[int],
        options: Any = None,
        options_type: int = 0,
    ) -> None:
        s = self.s
        if code not in self.codes:
            self.codes.append(code)
        o = s.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        if options is not None:
            o.builtinOptionsType = options_type
            o.builtinOptions = options
        self.ops.append(o)

    def build(self, inputs: list[int], outputs: list[int]) -> bytes:
        import flatbuffers

        s = self.s
        sg = s.SubGraphT()
        sg.tensors = self.tensors
        sg.inputs = list(inputs)
        sg.outputs = list(outputs)
        sg.operators = self.ops
        sg.name = "main"
        m = s.ModelT()
        m.version = 3
        m.description = "nnb test model"
        m.subgraphs = [sg]
        m.buffers = self.buffers
        codes = []
        for c in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = 1
            codes.append(oc)
        m.operatorCodes = codes
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    # -- option tables -------------------------------------------------------------------

    def conv_options(
        self,
        padding: int,
        stride: tuple[int, int],
        act: int = NONE,
        dilation: tuple[int, int] = (1, 1),
    ) -> tuple[Any, int]:
        o = self.s.Conv2DOptionsT()
        o.padding, (o.strideH, o.strideW) = padding, stride
        o.fusedActivationFunction = act
        o.dilationHFactor, o.dilationWFactor = dilation
        return o, self.s.BuiltinOptions.Conv2DOptions

    def dw_options(
        self,
        padding: int,
        stride: tuple[int, int],
        mult: int,
        act: int = NONE,
        dilation: tuple[int, int] = (1, 1),
    ) -> tuple[Any, int]:
        o = self.s.DepthwiseConv2DOptionsT()
        o.padding, (o.strideH, o.strideW) = padding, stride
        o.depthMultiplier = mult
        o.fusedActivationFunction = act
        o.dilationHFactor, o.dilationWFactor = dilation
        return o, self.s.BuiltinOptions.DepthwiseConv2DOptions

    def pool_options(
        self, padding: int, stride: tuple[int, int], size: tuple[int, int], act: int = NONE
    ) -> tuple[Any, int]:
        o = self.s.Pool2DOptionsT()
        o.padding, (o.strideH, o.strideW) = padding, stride
        o.filterHeight, o.filterWidth = size
        o.fusedActivationFunction = act
        return o, self.s.BuiltinOptions.Pool2DOptions

    def fc_options(self, act: int = NONE) -> tuple[Any, int]:
        o = self.s.FullyConnectedOptionsT()
        o.fusedActivationFunction = act
        return o, self.s.BuiltinOptions.FullyConnectedOptions

    def softmax_options(self, beta: float) -> tuple[Any, int]:
        o = self.s.SoftmaxOptionsT()
        o.beta = beta
        return o, self.s.BuiltinOptions.SoftmaxOptions

    def add_options(self, act: int = NONE) -> tuple[Any, int]:
        o = self.s.AddOptionsT()
        o.fusedActivationFunction = act
        return o, self.s.BuiltinOptions.AddOptions


# -- model recipes (each returns .tflite bytes) -----------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def conv_model(
    seed: int = 0,
    hw: tuple[int, int] = (9, 7),
    cin: int = 3,
    cout: int = 5,
    k: tuple[int, int] = (3, 3),
    padding: int = SAME,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    act: int = NONE,
    per_channel: bool = True,
    bias: bool = True,
    groups: int = 1,
    in_zp: int | None = None,
    out_scale: float = 0.07,
) -> bytes:
    """in_zp None: drawn from the seed; a small out_scale makes multipliers above 1."""
    r = _rng(seed)
    mb = ModelBuilder()
    h, w = hw
    eff = [(k[i] - 1) * dilation[i] + 1 for i in range(2)]
    if padding == SAME:
        oh, ow = (h + stride[0] - 1) // stride[0], (w + stride[1] - 1) // stride[1]
    else:
        oh, ow = (h - eff[0] + stride[0]) // stride[0], (w - eff[1] + stride[1]) // stride[1]
    kc = cin // groups
    zp = int(r.integers(-20, 20))
    x = mb.tensor([1, h, w, cin], INT8, 0.05, zp if in_zp is None else in_zp)
    wscale = [float(s) for s in r.uniform(0.002, 0.02, cout)] if per_channel else 0.01
    wt = mb.tensor(
        [cout, k[0], k[1], kc],
        INT8,
        wscale,
        0,
        data=r.integers(-127, 128, (cout, k[0], k[1], kc)),
        qdim=0,
    )
    ins = [x, wt]
    if bias:
        ins.append(mb.tensor([cout], INT32, 0.0005, 0, data=r.integers(-3000, 3000, cout)))
    y = mb.tensor([1, oh, ow, cout], INT8, out_scale, int(r.integers(-10, 10)))
    opts, ot = mb.conv_options(padding, stride, act, dilation)
    mb.op(CONV_2D, ins, [y], opts, ot)
    return mb.build([x], [y])


def dwconv_model(
    seed: int = 0,
    hw: tuple[int, int] = (8, 6),
    cin: int = 4,
    mult: int = 1,
    k: tuple[int, int] = (3, 3),
    padding: int = SAME,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    act: int = NONE,
    in_zp: int = -3,
    out_scale: float = 0.05,
) -> bytes:
    r = _rng(seed)
    mb = ModelBuilder()
    h, w = hw
    cout = cin * mult
    eff = [(k[i] - 1) * dilation[i] + 1 for i in range(2)]
    if padding == SAME:
        oh, ow = (h + stride[0] - 1) // stride[0], (w + stride[1] - 1) // stride[1]
    else:
        oh, ow = (h - eff[0] + stride[0]) // stride[0], (w - eff[1] + stride[1]) // stride[1]
    x = mb.tensor([1, h, w, cin], INT8, 0.04, in_zp)
    wt = mb.tensor(
        [1, k[0], k[1], cout],
        INT8,
        [float(s) for s in r.uniform(0.005, 0.03, cout)],
        0,
        data=r.integers(-127, 128, (1, k[0], k[1], cout)),
        qdim=3,
    )
    b = mb.tensor([cout], INT32, 0.0002, 0, data=r.integers(-500, 500, cout))
    y = mb.tensor([1, oh, ow, cout], INT8, out_scale, 4)
    opts, ot = mb.dw_options(padding, stride, mult, act, dilation)
    mb.op(DEPTHWISE_CONV_2D, [x, wt, b], [y], opts, ot)
    return mb.build([x], [y])


def fc_model(
    seed: int = 0,
    batches: int = 2,
    depth: int = 37,
    units: int = 11,
    act: int = NONE,
    per_channel: bool = False,
) -> bytes:
    r = _rng(seed)
    mb = ModelBuilder()
    x = mb.tensor([batches, depth], INT8, 0.03, 7)
    wscale = [float(s) for s in r.uniform(0.002, 0.02, units)] if per_channel else 0.011
    wt = mb.tensor([units, depth], INT8, wscale, 0, data=r.integers(-127, 128, (units, depth)))
    b = mb.tensor([units], INT32, 0.0003, 0, data=r.integers(-2000, 2000, units))
    y = mb.tensor([batches, units], INT8, 0.09, -5)
    opts, ot = mb.fc_options(act)
    mb.op(FULLY_CONNECTED, [x, wt, b], [y], opts, ot)
    return mb.build([x], [y])


def pool_model(
    kind: int,
    hw: tuple[int, int] = (7, 9),
    c: int = 5,
    size: tuple[int, int] = (3, 2),
    stride: tuple[int, int] = (2, 2),
    padding: int = SAME,
    act: int = NONE,
) -> bytes:
    mb = ModelBuilder()
    h, w = hw
    if padding == SAME:
        oh, ow = (h + stride[0] - 1) // stride[0], (w + stride[1] - 1) // stride[1]
    else:
        oh, ow = (h - size[0] + stride[0]) // stride[0], (w - size[1] + stride[1]) // stride[1]
    x = mb.tensor([1, h, w, c], INT8, 0.05, 3)
    y = mb.tensor([1, oh, ow, c], INT8, 0.05, 3)
    opts, ot = mb.pool_options(padding, stride, size, act)
    mb.op(kind, [x], [y], opts, ot)
    return mb.build([x], [y])


def add_model(
    shape_a: list[int], shape_b: list[int], shape_out: list[int], act: int = NONE
) -> bytes:
    mb = ModelBuilder()
    a = mb.tensor(shape_a, INT8, 0.03, -4)
    b = mb.tensor(shape_b, INT8, 0.07, 9)
    y = mb.tensor(shape_out, INT8, 0.08, -2)
    opts, ot = mb.add_options(act)
    mb.op(ADD, [a, b], [y], opts, ot)
    return mb.build([a, b], [y])


def softmax_model(shape: list[int], beta: float = 1.0, in_scale: float = 0.1) -> bytes:
    mb = ModelBuilder()
    x = mb.tensor(shape, INT8, in_scale, 12)
    y = mb.tensor(shape, INT8, 1.0 / 256.0, -128)
    opts, ot = mb.softmax_options(beta)
    mb.op(SOFTMAX, [x], [y], opts, ot)
    return mb.build([x], [y])


def logistic_model(in_scale: float = 0.06, zp: int = 5, n: int = 256) -> bytes:
    mb = ModelBuilder()
    x = mb.tensor([1, n], INT8, in_scale, zp)
    y = mb.tensor([1, n], INT8, 1.0 / 256.0, -128)
    mb.op(LOGISTIC, [x], [y])
    return mb.build([x], [y])


def quantize_model(in_type: int, out_type: int, n: int = 64) -> bytes:
    """QUANTIZE from float32/int8/uint8 to int8/uint8."""
    mb = ModelBuilder()
    if in_type == FLOAT32:
        x = mb.tensor([1, n], FLOAT32)
    else:
        x = mb.tensor([1, n], in_type, 0.02, 3 if in_type == INT8 else 131)
    y = mb.tensor([1, n], out_type, 0.035, -7 if out_type == INT8 else 120)
    mb.op(QUANTIZE, [x], [y])
    return mb.build([x], [y])


def dequantize_model(in_type: int, n: int = 64) -> bytes:
    mb = ModelBuilder()
    x = mb.tensor([1, n], in_type, 0.0371, -9 if in_type == INT8 else 128)
    y = mb.tensor([1, n], FLOAT32)
    mb.op(DEQUANTIZE, [x], [y])
    return mb.build([x], [y])


def float_fc_model(seed: int = 7, depth: int = 4, units: int = 3) -> bytes:
    """A float32 FULLY_CONNECTED (float input, weights and output): what the builtin backend
    refuses and the float-capable backends run."""
    r = _rng(seed)
    mb = ModelBuilder()
    x = mb.tensor([1, depth], FLOAT32)
    w = mb.tensor([units, depth], FLOAT32, data=r.uniform(-1, 1, (units, depth)))
    b = mb.tensor([units], FLOAT32, data=r.uniform(-1, 1, units))
    y = mb.tensor([1, units], FLOAT32)
    opts, ot = mb.fc_options(NONE)
    mb.op(FULLY_CONNECTED, [x, w, b], [y], opts, ot)
    return mb.build([x], [y])


def chain_model(seed: int = 3) -> bytes:
    """float -> QUANTIZE -> CONV(relu6) -> MAX_POOL -> RESHAPE -> FC -> LOGISTIC -> DEQUANTIZE."""
    r = _rng(seed)
    mb = ModelBuilder()
    xf = mb.tensor([1, 6, 6, 2], FLOAT32)
    xq = mb.tensor([1, 6, 6, 2], INT8, 0.02, 1)
    mb.op(QUANTIZE, [xf], [xq])
    w = mb.tensor(
        [4, 3, 3, 2], INT8, [0.01, 0.02, 0.015, 0.03], 0, data=r.integers(-127, 128, (4, 3, 3, 2))
    )
    b = mb.tensor([4], INT32, 0.0002, 0, data=r.integers(-100, 100, 4))
    c = mb.tensor([1, 6, 6, 4], INT8, 0.025, -128)
    opts, ot = mb.conv_options(SAME, (1, 1), RELU6)
    mb.op(CONV_2D, [xq, w, b], [c], opts, ot)
    p = mb.tensor([1, 3, 3, 4], INT8, 0.025, -128)
    opts, ot = mb.pool_options(VALID, (2, 2), (2, 2))
    mb.op(MAX_POOL_2D, [c], [p], opts, ot)
    shp = mb.tensor([2], INT32, data=np.array([1, 36]))
    rs = mb.tensor([1, 36], INT8, 0.025, -128)
    mb.op(RESHAPE, [p, shp], [rs])
    fw = mb.tensor([8, 36], INT8, 0.02, 0, data=r.integers(-127, 128, (8, 36)))
    fb = mb.tensor([8], INT32, 0.0005, 0, data=r.integers(-200, 200, 8))
    fo = mb.tensor([1, 8], INT8, 0.1, 3)
    opts, ot = mb.fc_options(NONE)
    mb.op(FULLY_CONNECTED, [rs, fw, fb], [fo], opts, ot)
    lo = mb.tensor([1, 8], INT8, 1.0 / 256.0, -128)
    mb.op(LOGISTIC, [fo], [lo])
    of = mb.tensor([1, 8], FLOAT32)
    mb.op(DEQUANTIZE, [lo], [of])
    return mb.build([xf], [of])


def unsupported_model() -> bytes:
    """One TANH operator (int8): every backend of the TFLM kind supports it, nnb does not."""
    mb = ModelBuilder()
    x = mb.tensor([1, 4], INT8, 0.05, 0)
    y = mb.tensor([1, 4], INT8, 1.0 / 128.0, 0)
    mb.op(TANH, [x], [y])
    return mb.build([x], [y])


def corpus() -> dict[str, bytes]:
    """The fuzzing seed corpus: one tiny model per operator family."""
    return {
        "conv_same_relu6.tflite": conv_model(1, (5, 4), 2, 3, act=RELU6),
        "conv_valid_stride2_dil.tflite": conv_model(
            2, (7, 7), 2, 2, padding=VALID, stride=(2, 2), dilation=(2, 1), per_channel=False
        ),
        "conv_1x1.tflite": conv_model(3, (3, 3), 4, 4, k=(1, 1)),
        "dwconv_mult2.tflite": dwconv_model(4, (4, 4), 2, 2),
        "fc_relu.tflite": fc_model(5, 1, 8, 4, act=RELU),
        "avgpool.tflite": pool_model(AVERAGE_POOL_2D, (4, 4), 2),
        "maxpool.tflite": pool_model(MAX_POOL_2D, (4, 4), 2, act=RELU_N1_TO_1),
        "add_bcast.tflite": add_model([1, 2, 3, 2], [1, 1, 3, 1], [1, 2, 3, 2], act=RELU),
        "softmax.tflite": softmax_model([2, 5], beta=0.7),
        "logistic.tflite": logistic_model(n=8),
        "quantize_f32.tflite": quantize_model(FLOAT32, INT8, 8),
        "requantize_u8.tflite": quantize_model(INT8, UINT8, 8),
        "dequantize.tflite": dequantize_model(INT8, 8),
        "chain.tflite": chain_model(),
        "tanh_unsupported.tflite": unsupported_model(),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "tests/corpus/model")
    out.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (out / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
