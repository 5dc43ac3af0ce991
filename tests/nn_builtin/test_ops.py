"""Operators and parameters no shared model covers, on tiny generated models, bit-exact with
TFLM; plus the backend's error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from build_tools import nnb
from edge_runtime import native
from edge_runtime.host.backends import builtin
from edge_runtime.host.backends.base import BackendError
from tests.nn_builtin import tflite_gen as g
from tests.nn_builtin.oracle_compare import assert_same_as_oracle

CASES: dict[str, Callable[[], bytes]] = {
    "conv_same_relu6": lambda: g.conv_model(1, (5, 4), 2, 3, act=g.RELU6),
    "conv_valid_stride2": lambda: g.conv_model(2, (7, 7), 2, 2, padding=g.VALID, stride=(2, 2)),
    "conv_dilation": lambda: g.conv_model(8, (9, 9), 3, 4, dilation=(2, 3), stride=(2, 1)),
    "conv_per_tensor": lambda: g.conv_model(13, per_channel=False, act=g.RELU),
    "conv_no_bias": lambda: g.conv_model(9, bias=False, act=g.RELU_N1_TO_1),
    "conv_groups": lambda: g.conv_model(7, (6, 5), 4, 6, groups=2),
    "conv_1x1": lambda: g.conv_model(3, (3, 3), 16, 12, k=(1, 1)),
    "conv_1x1_stride2": lambda: g.conv_model(14, (5, 5), 8, 4, k=(1, 1), stride=(2, 2)),
    "dwconv": lambda: g.dwconv_model(4, (8, 6), 40, 1, act=g.RELU6),
    "dwconv_mult2": lambda: g.dwconv_model(4, (4, 4), 2, 2),
    "dwconv_dilation_stride": lambda: g.dwconv_model(
        10, (9, 9), 3, 1, dilation=(2, 2), stride=(2, 2)
    ),
    "dwconv_valid_mult3": lambda: g.dwconv_model(11, (9, 9), 3, 3, padding=g.VALID, act=g.RELU),
    # Edge cases of the fast paths (nnb_kernels.c): pixel pairs that wrap rows or meet the
    # padding, a last unpaired pixel, channel tails (out_c % 4), height-only dilation, extreme
    # input zero points, multipliers above 1 (left shifts), 3x3 depthwise borders and strides,
    # depth multipliers on one input channel, depthwise filters other than 3x3.
    "conv_pairs_wrap_rows": lambda: g.conv_model(21, (5, 7), 6, 7),
    "conv_stride2_same": lambda: g.conv_model(22, (8, 9), 5, 6, stride=(2, 2)),
    "conv_dilation_height_only": lambda: g.conv_model(23, (9, 8), 4, 5, dilation=(2, 1)),
    "conv_zero_point_min": lambda: g.conv_model(24, (6, 5), 3, 4, in_zp=-128),
    "conv_zero_point_max": lambda: g.conv_model(25, (6, 5), 3, 9, act=g.RELU, in_zp=127),
    "conv_multiplier_above_1": lambda: g.conv_model(26, (4, 4), 8, 6, out_scale=0.0004),
    "conv_1x1_odd_pixels": lambda: g.conv_model(27, (3, 5), 9, 5, k=(1, 1)),
    "conv_1x1_one_channel": lambda: g.conv_model(28, (4, 3), 4, 1, k=(1, 1), in_zp=-128),
    "conv_wide_filter": lambda: g.conv_model(29, (12, 6), 1, 10, k=(10, 4), stride=(2, 2)),
    "dwconv_3x3_stride2": lambda: g.dwconv_model(30, (9, 8), 6, 1, stride=(2, 2)),
    "dwconv_3x3_valid": lambda: g.dwconv_model(31, (5, 7), 5, 1, padding=g.VALID),
    "dwconv_3x3_mult8": lambda: g.dwconv_model(32, (10, 9), 1, 8, stride=(2, 2)),
    "dwconv_5x5": lambda: g.dwconv_model(33, (7, 7), 3, 1, k=(5, 5)),
    "dwconv_zero_point_min": lambda: g.dwconv_model(34, (6, 7), 9, 1, in_zp=-128),
    "dwconv_zero_point_max": lambda: g.dwconv_model(35, (6, 7), 9, 2, act=g.RELU6, in_zp=127),
    "dwconv_multiplier_above_1": lambda: g.dwconv_model(36, (5, 5), 4, 1, out_scale=0.0001),
    "fc_batches": lambda: g.fc_model(5, 3, 37, 11),
    "fc_per_channel_relu6": lambda: g.fc_model(12, 2, 50, 9, per_channel=True, act=g.RELU6),
    "avgpool_same": lambda: g.pool_model(g.AVERAGE_POOL_2D),
    "avgpool_valid_relu": lambda: g.pool_model(
        g.AVERAGE_POOL_2D, (9, 9), 3, (3, 3), (1, 1), g.VALID, g.RELU
    ),
    "maxpool_same_relu6": lambda: g.pool_model(
        g.MAX_POOL_2D, (9, 8), 3, (3, 3), (2, 2), g.SAME, g.RELU6
    ),
    "maxpool_valid": lambda: g.pool_model(g.MAX_POOL_2D, (6, 6), 4, (2, 2), (2, 2), g.VALID),
    "add": lambda: g.add_model([1, 4, 4, 3], [1, 4, 4, 3], [1, 4, 4, 3], act=g.RELU6),
    "add_broadcast": lambda: g.add_model([1, 2, 3, 2], [1, 1, 3, 1], [1, 2, 3, 2], act=g.RELU),
    "add_broadcast_both": lambda: g.add_model([4, 1, 3], [1, 5, 1], [4, 5, 3]),
    "softmax_beta": lambda: g.softmax_model([2, 5], beta=0.7),
    "softmax_wide": lambda: g.softmax_model([3, 40], beta=1.0, in_scale=0.5),
    "softmax_1000": lambda: g.softmax_model([1, 1000], beta=1.0, in_scale=0.02),
    "logistic": lambda: g.logistic_model(),
    "logistic_wide_scale": lambda: g.logistic_model(0.2, -20),
    "logistic_fine_scale": lambda: g.logistic_model(0.004, 0),
    "quantize_f32_i8": lambda: g.quantize_model(g.FLOAT32, g.INT8),
    "requantize_i8_i8": lambda: g.quantize_model(g.INT8, g.INT8),
    "requantize_i8_u8": lambda: g.quantize_model(g.INT8, g.UINT8),
    "requantize_u8_i8": lambda: g.quantize_model(g.UINT8, g.INT8),
    "dequantize_i8": lambda: g.dequantize_model(g.INT8),
    "dequantize_u8": lambda: g.dequantize_model(g.UINT8),
    "chain": g.chain_model,
}


def _inputs(graph: Any, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for info in graph.inputs:
        if info.dtype == np.float32:
            x = rng.normal(0.0, 3.0, info.shape).astype(np.float32)
            x.reshape(-1)[:4] = [0.5, -0.5, 1e9, -1e9]  # ties and saturation
        else:
            lim = np.iinfo(info.dtype)
            x = rng.integers(lim.min, lim.max + 1, size=info.shape, dtype=info.dtype)
        out.append(x)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_bit_exact_with_tflm(
    case: str, nnb_backend: builtin.BuiltinBackend, tflm_from_bytes: Callable[[bytes], Any]
) -> None:
    model = CASES[case]()
    graph = nnb_backend.load(model)
    ctx = graph.new_context()
    oracle = tflm_from_bytes(model)
    for seed in range(3):
        xs = _inputs(graph, np.random.default_rng(seed))
        assert_same_as_oracle(ctx, oracle, xs, len(graph.outputs), f"{case} seed {seed}")


def test_every_int8_input_of_logistic(
    nnb_backend: builtin.BuiltinBackend, tflm_from_bytes: Callable[[bytes], Any]
) -> None:
    model = g.logistic_model(0.07, 3, 256)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    ctx = nnb_backend.load(model).new_context()
    ctx.set_input(0, x)
    ctx.invoke()
    oracle = tflm_from_bytes(model)
    oracle.set_input(x, 0)
    oracle.invoke()
    np.testing.assert_array_equal(ctx.get_output(0), oracle.get_output(0))


def test_unsupported_operator_is_named(nnb_backend: builtin.BuiltinBackend) -> None:
    with pytest.raises(BackendError) as e:
        nnb_backend.load(g.unsupported_model())
    assert e.value.kind == "unsupported_operation"
    assert str(e.value) == "backend builtin: load: unsupported operator TANH (28)"


def test_float_to_uint8_quantize_is_unsupported_like_tflm(
    nnb_backend: builtin.BuiltinBackend,
) -> None:
    with pytest.raises(BackendError) as e:
        nnb_backend.load(g.quantize_model(g.FLOAT32, g.UINT8))
    assert e.value.kind == "unsupported_operation"
    assert "QUANTIZE (operator 0): float32 to uint8" in str(e.value)


def test_not_a_model_is_invalid_encoding(nnb_backend: builtin.BuiltinBackend) -> None:
    with pytest.raises(BackendError) as e:
        nnb_backend.load(b"definitely not a flatbuffer")
    assert e.value.kind == "invalid_encoding"
    assert "flatbuffer:" in str(e.value)


def test_wrong_input_is_invalid_argument(nnb_backend: builtin.BuiltinBackend) -> None:
    ctx = nnb_backend.load(g.fc_model()).new_context()
    with pytest.raises(BackendError) as e:
        ctx.set_input(0, np.zeros((2, 37), np.float32))
    assert e.value.kind == "invalid_argument"
    assert "wants int8 [2, 37]" in str(e.value)
    with pytest.raises(BackendError) as e:
        ctx.get_output(3)
    assert e.value.kind == "invalid_argument"


def test_contexts_are_independent(nnb_backend: builtin.BuiltinBackend) -> None:
    graph = nnb_backend.load(g.fc_model(5, 1, 16, 4))
    a, b = graph.new_context(), graph.new_context()
    xa = np.arange(16, dtype=np.int8).reshape(1, 16)
    a.set_input(0, xa)
    a.invoke()
    first = a.get_output(0)
    b.set_input(0, -xa)
    b.invoke()
    a.invoke()
    np.testing.assert_array_equal(a.get_output(0), first)


def test_tensor_info(nnb_backend: builtin.BuiltinBackend) -> None:
    graph = nnb_backend.load(g.add_model([1, 2, 3, 2], [1, 1, 3, 1], [1, 2, 3, 2]))
    assert [i.shape for i in graph.inputs] == [(1, 2, 3, 2), (1, 1, 3, 1)]
    a = graph.inputs[0]
    assert a.dtype == np.int8 and a.zero_point == -4 and a.scale == pytest.approx(0.03)
    assert graph.outputs[0].shape == (1, 2, 3, 2)


def test_too_small_arena_says_how_much(nnb_backend: builtin.BuiltinBackend) -> None:
    import ctypes

    graph = nnb_backend.load(g.fc_model())
    lib = nnb_backend.lib
    interp = ctypes.create_string_buffer(lib.nnb_interp_struct_size())
    need = graph.arena_bytes
    arena = ctypes.create_string_buffer(need)
    err = builtin._Error()
    st = lib.nnb_interp_init(interp, graph.model_struct, arena, need - 1, ctypes.byref(err))
    assert builtin.KINDS[st] == "too_large"
    assert err.msg.decode() == f"arena of {need - 1} bytes is too small: {need} needed"
    st = lib.nnb_interp_init(interp, graph.model_struct, arena, need, ctypes.byref(err))
    assert st == 0 and err.msg == b""


def _random_config_model(i: int, rnd: Any) -> bytes | None:
    """One random CONV / DEPTHWISE / POOL / FC configuration (None when the shapes are void)."""
    kind = rnd.choice(["conv", "dw", "pool", "fc"])
    pad = rnd.choice([g.SAME, g.VALID])
    act = rnd.choice([g.NONE, g.RELU, g.RELU6, g.RELU_N1_TO_1])
    st = (rnd.randint(1, 3), rnd.randint(1, 3))
    dil = (rnd.randint(1, 3), rnd.randint(1, 3)) if rnd.random() < 0.3 else (1, 1)
    k = (rnd.randint(1, 5), rnd.randint(1, 5))
    hw = (rnd.randint(1, 12), rnd.randint(1, 12))
    eff = [(k[j] - 1) * (dil[j] if kind != "pool" else 1) + 1 for j in range(2)]
    if pad == g.VALID and (eff[0] > hw[0] or eff[1] > hw[1]):
        return None
    if kind == "conv":
        cin = rnd.randint(1, 9)
        groups = rnd.choice([g_ for g_ in (1, 2, 3) if cin % g_ == 0])
        cout = groups * rnd.randint(1, 5)
        per_channel, bias = rnd.random() < 0.7, rnd.random() < 0.8
        return g.conv_model(i, hw, cin, cout, k, pad, st, dil, act, per_channel, bias, groups)
    if kind == "dw":
        return g.dwconv_model(i, hw, rnd.randint(1, 40), rnd.choice([1, 1, 2, 3]), k, pad, st,
                              dil, act)  # fmt: skip
    if kind == "pool":
        op = rnd.choice([g.AVERAGE_POOL_2D, g.MAX_POOL_2D])
        return g.pool_model(op, hw, rnd.randint(1, 40), k, st, pad, act)
    return g.fc_model(i, rnd.randint(1, 4), rnd.randint(1, 300), rnd.randint(1, 40), act,
                      rnd.random() < 0.5)  # fmt: skip


def test_random_configurations_bit_exact(nnb_backend: builtin.BuiltinBackend, tflm: Any) -> None:
    import random

    rnd = random.Random(2026)
    checked = 0
    for i in range(160):
        model = _random_config_model(i, rnd)
        if model is None:
            continue
        oracle = tflm.Interpreter.from_bytes(model, arena_size=1 << 20)
        graph = nnb_backend.load(model)
        ctx = graph.new_context()
        x = np.random.default_rng(i).integers(-128, 128, graph.inputs[0].shape, dtype=np.int8)
        oracle.set_input(x, 0)
        oracle.invoke()
        ctx.set_input(0, x)
        ctx.invoke()
        np.testing.assert_array_equal(ctx.get_output(0), oracle.get_output(0), err_msg=str(i))
        checked += 1
    assert checked > 100


def test_library_from_env_var(
    nnb_backend: builtin.BuiltinBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(builtin, "_lib", None)
    monkeypatch.setenv(native.env_var(builtin.LIB), str(tmp_path / "missing.so"))
    with pytest.raises(BackendError) as e:
        builtin.BuiltinBackend()
    assert e.value.kind == "unsupported_operation"
    assert "builtin backend unavailable: EDGE_RUNTIME_NNB_LIB=" in str(e.value)
    assert "does not exist" in str(e.value)
    monkeypatch.setattr(builtin, "_lib", None)
    monkeypatch.setenv(native.env_var(builtin.LIB), str(nnb.build_dir("release") / nnb.LIB_NAME))
    assert builtin.BuiltinBackend().load(g.fc_model()).inputs[0].shape == (2, 37)
