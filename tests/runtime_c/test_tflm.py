"""The tflm NN backend (TFLM + ESP-NN's plain-C kernels behind rt_nn.h) on posix.

- the whole conformance suite on posix x wasm2c x tflm;
- the tflm and built-in backends agree bit for bit with the oracle (the tflite-micro Python
  package) on every shared model;
- corrupted models never crash it (flip sweep over every shared model, about 30 s);
- the resolver holds exactly the target's operators; others are unsupported_operation, named.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from build_tools import tflm_ops
from build_tools.conformance import suite
from build_tools.firmware import RuntimeImage
from build_tools.firmware import cmake as fw_cmake
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import with_runtime
from tests.conftest import shared_file
from tests.nn_builtin import tflite_gen
from tests.runtime_c import tflm_tools
from tests.runtime_c.conftest import require_tools

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def tflm_runtime() -> Iterator[RuntimeImage]:
    require_tools()
    yield tflm_tools.build()


@pytest.fixture(scope="module")
def oracle_runtime() -> Any:
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def test_conformance_posix_wasm2c_tflm(tflm_runtime: RuntimeImage) -> None:
    target = tflm_tools.tflm_target()
    result = suite.run_suite(target, options={"binary": tflm_runtime.binary})
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert result.count("passed") > 0


@pytest.fixture(scope="module")
def wamr_tflm_runtime() -> Iterator[RuntimeImage]:
    require_tools()
    yield CMakeBuilder().build(with_runtime(tflm_tools.tflm_target(), engine="wamr"))


def test_upstream_code_built_once_for_both_engines(
    tflm_runtime: RuntimeImage, wamr_tflm_runtime: RuntimeImage
) -> None:
    """TFLM and ESP-NN do not depend on the engine: both engine configurations link the one
    library of build/<target>/nn-tflm/ and compile none of it themselves."""
    library = fw_cmake.nn_upstream_dir(tflm_runtime.target) / "cmake" / "librt_nn_ext.a"
    members = subprocess.run(["ar", "t", str(library)], capture_output=True, text=True, check=True)
    assert "micro_interpreter.cc.o" in members.stdout.split()
    assert "esp_nn_conv_ansi.c.o" in members.stdout.split()
    for image in (tflm_runtime, wamr_tflm_runtime):
        cache = (image.build_dir / "CMakeCache.txt").read_text()
        assert f"RT_NN_EXTERNAL_LIB:FILEPATH={library}" in cache
        assert image.map_file is not None
        linked = image.map_file.read_text()  # what the linker took, and from where
        assert f"{library}(micro_interpreter.cc.o)" in linked
        assert "rt_nn_ext.dir" not in linked, image.build_dir  # no TFLM compiled in the build
        assert "rt_nn.dir/" in linked  # the glue is the configuration's own


def test_conformance_posix_wamr_tflm(wamr_tflm_runtime: RuntimeImage) -> None:
    """The last combination of the matrix: modules loaded at run time by WAMR, inference on
    TFLM (posix x {wasm2c, wamr} x {builtin, tflm} and qemu-rv32 x {wasm2c, wamr} x builtin all
    run the whole suite in CI; TFLM has no C++ library for bare-metal rv32 in Debian)."""
    target = with_runtime(tflm_tools.tflm_target(), engine="wamr")
    image = wamr_tflm_runtime
    result = suite.run_suite(target, options={"binary": image.binary})
    assert (result.engine, result.backend) == ("wamr", "tflm")
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert result.count("skipped") == 0
    assert result.count("passed") > 90


def _count(get: Any) -> int:
    n = 0
    while True:
        try:
            get(n)
        except IndexError:
            return n
        n += 1


def _io(oracle: Any) -> tuple[list[dict[str, Any]], int]:
    """The oracle's input details and its output count."""
    n_in = _count(oracle.get_input_details)
    return [oracle.get_input_details(i) for i in range(n_in)], _count(oracle.get_output_details)


def _oracle_run(oracle: Any, inputs: list[np.ndarray], n_out: int) -> bytes:
    for i, x in enumerate(inputs):
        oracle.set_input(x, i)
    oracle.invoke()
    return b"".join(np.asarray(oracle.get_output(o)).tobytes() for o in range(n_out))


@pytest.mark.parametrize("name", tflm_tools.MODELS)
def test_both_backends_bit_exact_with_oracle(
    name: str, tflm_runtime: RuntimeImage, oracle_runtime: Any, tmp_path: Path
) -> None:
    path = shared_file(f"models/{name}.tflite")
    oracle = oracle_runtime.Interpreter.from_file(str(path))
    details, n_out = _io(oracle)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        inputs = []
        for d in details:
            lim = np.iinfo(d["dtype"])
            inputs.append(rng.integers(lim.min, lim.max + 1, size=d["shape"], dtype=d["dtype"]))
        want = _oracle_run(oracle, inputs, n_out)
        report, got_builtin, got_tflm = tflm_tools.run_both(
            tflm_tools.nn_compare(tflm_runtime),
            path,
            b"".join(x.tobytes() for x in inputs),
            tmp_path,
        )
        assert report["builtin"]["status"] == "ok", report
        assert report["tflm"]["status"] == "ok", report
        assert got_builtin == want, f"{name} seed {seed}: built-in differs from the oracle"
        assert got_tflm == want, f"{name} seed {seed}: tflm differs from the oracle"


@pytest.mark.parametrize("name", tflm_tools.MODELS)
def test_flip_sweep_never_crashes(name: str, tflm_runtime: RuntimeImage, tmp_path: Path) -> None:
    """Every Nth byte of the structure (about 300 flips) and of the weights (about 60), one at a
    time: load, context, invoke. The process must survive each, leak nothing, and the
    verifier must reject some of them (a sweep where nothing fails tests nothing)."""
    path = shared_file(f"models/{name}.tflite")
    r = tflm_tools.sweep(tflm_tools.nn_compare(tflm_runtime), path, tmp_path, (300, 60), 300)
    assert r["returncode"] == 0, r["stderr"][-3000:]
    assert r["flips"] == len(tflm_tools.sweep_positions(path.read_bytes(), 300, 60))
    assert r["leaks"] == 0
    assert r["ok"] > 0 and r["invalid_encoding"] > 0, r
    # Every failure is one of the model-problem answers, never a TFLM error out of a bad model.
    assert r["invalid_argument"] == r["busy"] == r["missing_memory"] == r["not_found"] == 0, r


def _compare(tflm_runtime: RuntimeImage, model: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "model.tflite"
    path.write_bytes(model)
    report, _, _ = tflm_tools.run_both(
        tflm_tools.nn_compare(tflm_runtime), path, bytes(4096), tmp_path
    )
    return report


def test_operator_outside_the_targets_models_is_named(
    tflm_runtime: RuntimeImage, tmp_path: Path
) -> None:
    """LOGISTIC runs on the built-in backend, but no model of the target uses it, so the tflm
    resolver does not register it."""
    assert "LOGISTIC" in tflm_ops.OPS
    report = _compare(tflm_runtime, tflite_gen.logistic_model(), tmp_path)
    assert report["builtin"]["status"] == "ok"
    assert report["tflm"]["status"] == "unsupported_operation"
    assert report["tflm"]["message"] == "unsupported operator LOGISTIC (14)"


def test_operator_without_kernel_is_named(tflm_runtime: RuntimeImage, tmp_path: Path) -> None:
    report = _compare(tflm_runtime, tflite_gen.unsupported_model(), tmp_path)
    assert report["tflm"]["status"] == "unsupported_operation"
    assert report["tflm"]["message"] == "unsupported operator TANH (28)"


def test_truncated_model_is_invalid_encoding(tflm_runtime: RuntimeImage, tmp_path: Path) -> None:
    model = shared_file("models/kws_ref_model.tflite").read_bytes()
    report = _compare(tflm_runtime, model[: len(model) // 2], tmp_path)
    assert report["tflm"]["status"] == "invalid_encoding"
    assert report["tflm"]["message"].startswith("flatbuffer: "), report


def test_resolver_ops_come_from_the_targets_models() -> None:
    models = [(n, tflm_tools.model_path(n).read_bytes()) for n in tflm_tools.MODELS]
    for n, _ in models:
        shared_file(f"models/{n}.tflite")
    ops = tflm_ops.ops_for_models(models)
    assert ops == [
        "ADD",
        "AVERAGE_POOL_2D",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "DEQUANTIZE",
        "FULLY_CONNECTED",
        "RESHAPE",
        "SOFTMAX",
        "QUANTIZE",
    ]
    header = tflm_ops.ops_header(ops)
    assert "#define RT_TFLM_OP_COUNT 9" in header
    assert "RT_TFLM_OP(CONV_2D, 3, AddConv2D)" in header
    cmake = tflm_ops.tflm_cmake(ops)
    assert "esp_nn/conv.cc" in cmake and "logistic.cc" not in cmake


def test_unknown_operator_is_left_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert tflm_ops.ops_for_models([("tanh", tflite_gen.unsupported_model())]) == []
    assert "operator 28 has no TFLM kernel" in caplog.text
