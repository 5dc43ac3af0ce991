"""Bit-exact agreement with TFLM (the tflite-micro interpreter) on every shared model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from build_tools.conformance.inputs import bmp_gray_int8
from edge_runtime.host.backends import builtin
from tests.conftest import shared_file
from tests.nn_builtin.oracle_compare import assert_same_as_oracle

MODELS = [
    "vww_96_int8",
    "kws_ref_model",
    "pretrainedResnet_quant",
    "ad01_int8",
    "person_detect",
    "micro_speech_quantized",
    "hello_world_int8",
]
SEEDS = [0, 1, 2, 3]


def _random_input(info: Any, rng: np.random.Generator) -> np.ndarray:
    lim = np.iinfo(info.dtype)
    return rng.integers(lim.min, lim.max + 1, size=info.shape, dtype=info.dtype)


@pytest.mark.parametrize("name", MODELS)
def test_bit_exact_with_tflm(name: str, nnb_backend: builtin.BuiltinBackend, tflm: Any) -> None:
    path = shared_file(f"models/{name}.tflite")
    graph = nnb_backend.load(path.read_bytes())
    ctx = graph.new_context()
    oracle = tflm.Interpreter.from_file(str(path))
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        inputs = [_random_input(info, rng) for info in graph.inputs]
        assert_same_as_oracle(ctx, oracle, inputs, len(graph.outputs), f"{name} seed {seed}")


@pytest.mark.parametrize("name", MODELS)
def test_arena_fits_the_reported_size(name: str, nnb_backend: builtin.BuiltinBackend) -> None:
    graph = nnb_backend.load(shared_file(f"models/{name}.tflite").read_bytes())
    assert graph.arena_bytes >= graph.activation_bytes + graph.persistent_bytes
    assert graph.new_context().arena_bytes == graph.arena_bytes


def test_person_detect_on_real_images(nnb_backend: builtin.BuiltinBackend, tflm: Any) -> None:
    model = shared_file("models/person_detect.tflite")
    graph = nnb_backend.load(model.read_bytes())
    ctx = graph.new_context()
    oracle = tflm.Interpreter.from_file(str(model))
    scores = {}
    for name in ("person", "no_person"):
        x = bmp_gray_int8(shared_file(f"images/{name}.bmp")).reshape(graph.inputs[0].shape)
        ctx.set_input(0, x)
        ctx.invoke()
        got = ctx.get_output(0)
        oracle.set_input(x, 0)
        oracle.invoke()
        np.testing.assert_array_equal(got, oracle.get_output(0), err_msg=name)
        scores[name] = got.reshape(-1).tolist()
    # The images' own labels: class 1 is "person", class 0 "no person".
    assert scores["person"][1] > scores["person"][0], scores
    assert scores["no_person"][0] > scores["no_person"][1], scores
