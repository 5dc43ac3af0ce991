"""Damaged and unsupported models on the Python host (issue "Hardening", items 1-3).

- A bounded byte-flip sweep over every shared model on every backend: no crash of the process,
  no host-internal error, and only the error codes docs/abi.md gives for a bad model. A longer
  sweep runs by hand: `python -m tests.host.flip_sweep --stride 16` (see that module).
- The exact reproduction from the issue through the CLI, in a subprocess (it used to exit 139).
- An explicitly chosen backend never falls back to another one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from build_tools.paths import repo_root, shared_root
from edge_runtime.host.loader import GraphLoader, LoadFailure
from edge_runtime.host.models import ModelRegistry
from edge_runtime.host.tflite_check import MalformedModel, verify_tflite
from tests.conftest import shared_file
from tests.host.flip_sweep import structure_offsets, sweep

BACKENDS = ("builtin", "tflm", "litert")
# Flips per model and backend: structure bytes (where damage matters) and weight bytes. With
# these, the sweep takes about 30 s for all models on all three backends (2 cores, loaded).
STRUCTURE_FLIPS, DATA_FLIPS = 64, 4
# Offsets of hello_world_int8 that crashed TFLM (1168 SIGSEGV, 2688 SIGABRT) or made it read
# out of bounds (1504) before models were verified.
KNOWN = {"hello_world_int8": [1168, 1504, 2688]}
# What a step may return for a damaged model (docs/abi.md): load refuses it as invalid_encoding
# (2), or unsupported_operation (6) / too_large (7) for what a backend lacks; a model that loads
# computes (0) or fails as runtime_error (5); an input larger than the sweep's buffer is skipped.
ALLOWED = {
    "load": {0, 2, 6, 7},
    "init": {0, 5, 7},
    "set_input": {0, 1},
    "compute": {0, 5},
    "skipped": {-1},
}


def _models() -> list[Path]:
    models = sorted((shared_root() / "models").glob("*.tflite"))
    if not models:
        pytest.skip("reference data models/ not found beside the project (../shared/models)")
    return models


@pytest.mark.parametrize("backend", BACKENDS)
def test_flip_sweep_never_crashes_the_host(backend: str) -> None:
    flips = []
    for path in _models():
        offsets = structure_offsets(path.read_bytes(), STRUCTURE_FLIPS, DATA_FLIPS)
        flips += [(path, o) for o in sorted({*offsets, *KNOWN.get(path.stem, [])})]
    result = sweep("shared models", backend, flips, timeout_s=300)
    assert result.flips == len(flips), result.summary()
    problems = [f"{where}: crash ({how})" for where, how in result.crashes]
    problems += [f"{where}: {err}" for where, err in result.internal]
    for outcome in result.outcomes:
        step, _, code = outcome.partition("=")
        if outcome != "ok" and (not code or int(code) not in ALLOWED.get(step, set())):
            problems.append(f"unexpected {outcome}")  # e.g. "nondeterministic"
    assert not problems, result.summary() + "\n" + "\n".join(problems)
    assert result.outcomes["ok"] and result.outcomes["load=2"], result.summary()


def test_known_damage_is_invalid_encoding_with_the_reason() -> None:
    model = shared_file("models/hello_world_int8.tflite").read_bytes()
    reasons = {
        1168: "operator 2: tensor 246 out of range",
        1504: "FULLY_CONNECTED (operator 2): output shape does not match",
        2688: "OperatorCode: misaligned vtable",
        1344: "graph input tensor 255 out of range",
    }
    for offset, reason in reasons.items():
        damaged = bytearray(model)
        damaged[offset] ^= 0xFF
        with pytest.raises(MalformedModel, match=re.escape(reason)):
            verify_tflite(bytes(damaged))
    with pytest.raises(MalformedModel, match="outside the 1352-byte model"):
        verify_tflite(model[: len(model) // 2])
    for path in _models():  # every real model passes
        verify_tflite(path.read_bytes())


def _run_cli(tmp_path: Path, model: bytes, backend: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "m.tflite").write_bytes(model)
    (tmp_path / "name").write_bytes(b"m")
    argv = [sys.executable, "-m", "build_tools", "run", "host", "nn_probe", "nn_load_by_name"]
    argv += ["@input", "@input_len", "0", "--input", str(tmp_path / "name")]
    argv += ["--model", f"m={tmp_path / 'm.tflite'}", "--backend", backend]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=300, cwd=repo_root(), check=False
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_reproduction_returns_invalid_encoding(tmp_path: Path, backend: str) -> None:
    """The issue's reproduction: byte 1168 flipped, registered with --model, nn_load_by_name."""
    model = bytearray(shared_file("models/hello_world_int8.tflite").read_bytes())
    model[1168] ^= 0xFF
    proc = _run_cli(tmp_path, bytes(model), backend)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "2", proc.stdout  # invalid_encoding
    assert "Traceback" not in proc.stderr, proc.stderr


def test_explicit_backend_never_falls_back_cli(tmp_path: Path) -> None:
    """`--backend builtin` on a model with an operator builtin lacks: unsupported_operation (6)
    naming the operator, not a silent run on tflm."""
    tanh = (repo_root() / "tests" / "corpus" / "model" / "tanh_unsupported.tflite").read_bytes()
    proc = _run_cli(tmp_path, tanh, "builtin")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "6", proc.stdout
    assert "used tflm" not in proc.stderr


def test_explicit_backend_never_falls_back_loader() -> None:
    reg = ModelRegistry()
    reg.add("person_detect", shared_file("models/person_detect.tflite"))
    reg.add("tanh", repo_root() / "tests" / "corpus" / "model" / "tanh_unsupported.tflite")
    explicit = GraphLoader(reg, "litert", explicit=True)
    with pytest.raises(LoadFailure, match=r"backend litert: DEPTHWISE_CONV_2D \(operator 0\)") as e:
        explicit.load_named("person_detect", None)
    assert e.value.kind == "unsupported_operation"
    assert not explicit.fallbacks
    builtin = GraphLoader(reg, "builtin", explicit=True)
    with pytest.raises(LoadFailure, match=r"unsupported operator TANH") as e:
        builtin.load_named("tanh", None)
    assert e.value.kind == "unsupported_operation"
    # Without an explicit choice, the target's default backend still falls back (documented).
    default = GraphLoader(reg, "builtin")
    assert default.load_named("tanh", None).backend == "tflm"
    assert "used tflm" in default.fallbacks["tanh"]


def _conv_with(stride: tuple[int, int], out_hw: tuple[int, int], scale: float = 0.05) -> bytes:
    from tests.nn_builtin import tflite_gen as g

    mb = g.ModelBuilder()
    x = mb.tensor([1, 8, 8, 2], g.INT8, scale, 0)
    w = mb.tensor([3, 3, 3, 2], g.INT8, 0.01, 0, data=np.ones((3, 3, 3, 2)))
    y = mb.tensor([1, *out_hw, 3], g.INT8, 0.05, 0)
    opts, ot = mb.conv_options(g.SAME, stride)
    mb.op(g.CONV_2D, [x, w], [y], opts, ot)
    return mb.build([x], [y])


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (lambda: _conv_with((1, 1), (8, 8)), None),  # valid
        (lambda: _conv_with((2, 2), (4, 4)), None),  # valid
        (lambda: _conv_with((0, 1), (8, 8)), "stride_h 0 is not in 1..65535"),
        (lambda: _conv_with((1, 1), (8, 7)), "output shape does not match"),
        (lambda: _conv_with((1, 1), (8, 8), scale=0.0), "scale 0.0 is not finite and > 0"),
        (lambda: _conv_with((1, 1), (8, 8), scale=float("nan")), "is not finite and > 0"),
    ],
)
def test_operator_rules(model: Callable[[], bytes], reason: str | None) -> None:
    """The output shape and options an operator computes with must be the ones stored."""
    data = model()
    if reason is None:
        verify_tflite(data)
    else:
        with pytest.raises(MalformedModel, match=re.escape(reason)):
            verify_tflite(data)


def test_buffer_size_must_match_the_shape() -> None:
    from tests.nn_builtin import tflite_gen as g

    mb = g.ModelBuilder()
    x = mb.tensor([1, 4], g.INT8, 0.05, 0)
    w = mb.tensor([2, 4], g.INT8, 0.01, 0, data=np.ones((2, 4)))
    mb.buffers[-1].data = mb.buffers[-1].data[:7]  # one byte short of 2 x 4
    y = mb.tensor([1, 2], g.INT8, 0.05, 0)
    opts, ot = mb.fc_options()
    mb.op(g.FULLY_CONNECTED, [x, w], [y], opts, ot)
    with pytest.raises(MalformedModel, match=r"buffer has 7 bytes, shape \[2, 4\] needs 8"):
        verify_tflite(mb.build([x], [y]))
