"""Unit tests of the Python wasmtime host: wasi-nn layer, limits, WASI subset, reports, CLI."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from build_tools.cli import run as cli_run
from build_tools.conformance.report import junit_xml, markdown_matrix
from build_tools.conformance.runner import CaseResult, SuiteResult
from build_tools.conformance.tolerance import check_tolerance
from edge_runtime.host.backends import get_backend
from edge_runtime.host.backends.base import BackendError, TensorInfo
from edge_runtime.host.memory import GuestMemory
from edge_runtime.host.quant import dequantize, quantize
from edge_runtime.host.tflite_check import MalformedModel, check_tflite, io_counts
from tests.conftest import shared_file

INT8 = TensorInfo((4,), np.dtype(np.int8), 0.5, 3)


def test_quantize_rounds_half_away_and_saturates() -> None:
    x = np.array([0.25, 0.75, -0.75, 1e9, np.nan, -1e9, 0.2499999], np.float32)
    # x / 0.5 = 0.5 -> 1, 1.5 -> 2, -1.5 -> -2; + zero point 3; NaN -> 3; clamp to int8
    info = TensorInfo((7,), np.dtype(np.int8), 0.5, 3)
    assert quantize(x, info).tolist() == [4, 5, 1, 127, 3, -128, 3]


def test_dequantize() -> None:
    assert dequantize(np.array([3, 5, -128], np.int8), INT8).tolist() == [0.0, 1.0, -65.5]


def test_guest_memory_bounds_without_overflow() -> None:
    mem = GuestMemory(np.zeros(64, np.uint8))
    assert mem.ok(60, 4) and not mem.ok(61, 4)
    assert not mem.ok(0xFFFFFFF0, 0x20)  # would wrap in 32-bit arithmetic
    mem.write_u32(8, 0xDEADBEEF)
    assert mem.u32(8) == 0xDEADBEEF


def test_tflite_check_accepts_models_and_rejects_damage() -> None:
    model = shared_file("models/hello_world_int8.tflite").read_bytes()
    check_tflite(model)
    assert io_counts(model) == (1, 1)
    with pytest.raises(MalformedModel, match="identifier"):
        check_tflite(b"\0" * 64)
    with pytest.raises(MalformedModel, match="outside"):
        check_tflite(model[:1000])


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(BackendError, match="known: litert"):
        get_backend("onnxruntime")


def test_tflite_runtime_missing_is_explained() -> None:
    try:
        import tflite_runtime  # noqa: F401
    except ImportError:
        with pytest.raises(BackendError, match="not installed"):
            get_backend("tflite-runtime")
    else:
        pytest.skip("tflite-runtime is installed here")


def test_litert_rejects_person_detect_with_backend_model_and_reason() -> None:
    from edge_runtime.host.loader import GraphLoader, LoadFailure
    from edge_runtime.host.models import ModelRegistry

    reg = ModelRegistry()
    reg.add("person_detect", shared_file("models/person_detect.tflite"))
    loader = GraphLoader(reg, "litert")
    with pytest.raises(
        LoadFailure,
        match=r"person_detect: backend litert: DEPTHWISE_CONV_2D \(operator 0\): quantized_dim",
    ):
        loader.load_named("person_detect", "litert")
    pytest.importorskip("tflite_micro", reason="tflite-micro has x86_64 wheels only")
    assert loader.load_named("person_detect", None).backend == "tflm"
    assert "used tflm" in loader.fallbacks["person_detect"]


def test_tolerance_specs() -> None:
    e = np.array([10, -5, 3], np.int8)
    assert check_tolerance(e.copy(), e, "exact") is None
    assert "not bit-exact" in str(check_tolerance(e + 1, e, "exact"))
    assert check_tolerance(e + 2, e, "lsb:2") is None
    assert "top-1" in str(check_tolerance(np.array([0, 20, 3], np.int8), e, ["lsb:30", "top1"]))


def test_reports() -> None:
    r = SuiteResult(
        "host",
        [
            CaseResult("a", "passed"),
            CaseResult("b", "failed", "boom"),
            CaseResult("c", "skipped", "x"),
        ],
    )
    xml = junit_xml(r)
    assert 'failures="1"' in xml and "<failure" in xml and "boom" in xml
    other = {**r.as_json(), "target": "posix"}
    table = markdown_matrix([r.as_json(), other])
    assert "| b | **FAIL** | **FAIL** |" in table and "| case | host | posix |" in table


def test_cli_run_reactor_export_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(["run", "host", "hello", "say_hello", "5"]) == 0
    out = capsys.readouterr().out
    assert out == "hello from wasm 5\n18\n"
    assert cli_run(["run", "host", "hello", "trap"]) == 1
    assert "trap: unreachable" in capsys.readouterr().err


def test_cli_run_command_module_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from build_tools.toolchains import wabt

    wat = tmp_path / "cmd.wat"
    wat.write_text(
        '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
        ' (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))'
        ' (memory (export "memory") 1) (data (i32.const 8) "\\10\\00\\00\\00\\03\\00\\00\\00")'
        ' (data (i32.const 16) "hi\\0a")'
        ' (func (export "_start") (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 32)))'
        " (call $exit (i32.const 3))))"
    )
    wasm = tmp_path / "cmd.wasm"
    wabt.wat2wasm(wat, wasm)
    assert cli_run(["run", "host", str(wasm)]) == 3
    assert capsys.readouterr().out == "hi\n"


def test_cli_test_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "r.xml"
    assert cli_run(["test", "host", "--json", "-k", r"^engine\.add", "--junit", str(junit)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "host" and data["passed"] == 2 and data["failed"] == 0
    assert [c["id"] for c in data["cases"]] == ["engine.add", "engine.add_wraps"]
    assert "engine.add_wraps" in junit.read_text()
    saved = tmp_path / "host.json"
    saved.write_text(json.dumps(data))
    assert cli_run(["test", "--matrix", str(saved)]) == 0
    assert "| engine.add | pass |" in capsys.readouterr().out


def test_guest_importing_outside_the_abi_is_refused(tmp_path: Path) -> None:
    from build_tools.devices.host import HostDut
    from build_tools.targets import load_target
    from build_tools.toolchains import wabt
    from edge_runtime.errors import DeviceError

    wat = tmp_path / "fs.wat"
    wat.write_text(
        '(module (import "wasi_snapshot_preview1" "path_unlink_file"'
        ' (func (param i32 i32 i32) (result i32))) (memory (export "memory") 1))'
    )
    wasm = tmp_path / "fs.wasm"
    wabt.wat2wasm(wat, wasm)
    with (
        HostDut(load_target("host")) as dut,
        pytest.raises(DeviceError, match="path_unlink_file is not in the allowed ABI"),
    ):
        dut.instantiate("fs", wasm.read_bytes())


def test_memory_cap_from_target_limits(tmp_path: Path) -> None:
    """A module without a maximum can only grow to the instance cap."""
    from build_tools.devices.host import HostDut
    from build_tools.targets import load_target
    from build_tools.toolchains import wabt

    wat = tmp_path / "grow.wat"
    wat.write_text(
        '(module (memory (export "memory") 1)'
        ' (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))'
    )
    wasm = tmp_path / "grow.wasm"
    wabt.wat2wasm(wat, wasm)
    with HostDut(load_target("host"), {"memory_kib": 256}) as dut:
        iid = dut.instantiate("grow", wasm.read_bytes())
        assert dut.call(iid, "grow", [3]).value == 1  # 4 pages = 256 KiB: allowed
        assert dut.call(iid, "grow", [1]).value == -1  # a 5th page exceeds the cap
        assert struct.calcsize("<I") == 4
