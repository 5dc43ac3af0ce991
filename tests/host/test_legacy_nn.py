"""The legacy `wasi_nn` module (docs/abi.md section 8) through a WASI command module written
against it, as EVP/AITRIOS apps are: arguments and environment from `run --env ... -- ARGS`,
int8 and float models on the host. Expected values come from the tflite-micro oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from build_tools.cli import run as cli_run
from build_tools.conformance.oracle import TflmOracle
from build_tools.guests import build_command_modules
from build_tools.targets import load_target
from edge_runtime.host.memory import GuestMemory
from edge_runtime.host.wasi import EFAULT, ESUCCESS, Wasi, WasiState
from edge_runtime.host.wasi_nn import NnFailure
from edge_runtime.host.wasi_nn_legacy import model_name_span
from tests.nn_builtin import tflite_gen

# hello_world_int8's own quantization parameters (read from the model with the TFLM interpreter)
IN_SCALE, IN_ZP = 0.024480115622282028, -128
OUT_SCALE, OUT_ZP = 0.008290956728160381, 5


@pytest.fixture
def legacy_infer(build_dir: Path) -> Path:
    return build_command_modules(load_target("host"), build_dir)["legacy_infer"]


def outputs(text: str) -> list[np.float32]:
    return [np.float32(line.split("=", 1)[1]) for line in text.splitlines() if "output[" in line]


def test_command_module_gets_args_env_and_runs_int8_model(
    legacy_infer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "host", str(legacy_infer), "--env", "LABEL=demo run", "--"]
    assert cli_run([*argv, "./models/hello_world_int8.tflite", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "argv[0]=legacy_infer label=demo run\n" in out
    # By hand: 1.5 / 0.02448... = 61.27 -> 61, + zero point -128 = -67 (docs/abi.md section 3).
    q = TflmOracle().run("hello_world_int8", np.array([-67], np.int8))
    expected = (np.float32(int(q[0]) - OUT_ZP)) * np.float32(OUT_SCALE)
    assert outputs(out) == [expected]


def test_float_model_runs_on_the_host(
    legacy_infer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "fc_float.tflite"
    model.write_bytes(tflite_gen.float_fc_model())
    values = ["0.5", "-1.25", "2", "3.75"]
    argv = ["run", "host", str(legacy_infer), "--model", f"fc_float={model}", "--backend", "tflm"]
    assert cli_run([*argv, "--", "/data/models/fc_float.tflite", *values]) == 0
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    interp.set_input(np.array([values], np.float32), 0)
    interp.invoke()
    expected = list(np.asarray(interp.get_output(0), np.float32).reshape(-1))
    assert outputs(capsys.readouterr().out) == expected


def test_unknown_model_path_is_reported_by_the_guest(
    legacy_infer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_run(["run", "host", str(legacy_infer), "--", "./models/nope.tflite"]) == 1
    assert "./models/nope.tflite: error 8" in capsys.readouterr().out  # not_found


@pytest.mark.parametrize("bad", ["NOEQUALS", "=value"])
def test_bad_env_option_is_one_clear_line(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(["run", "host", "hello", "--env", bad]) == 2
    assert f"--env {bad!r}: expected KEY=VALUE" in capsys.readouterr().err


def test_wasi_args_and_environ_layout() -> None:
    mem = GuestMemory(np.zeros(256, np.uint8))
    wasi = Wasi(WasiState(args=(b"prog", b"a b"), environ=(b"K=V",)))
    assert wasi.args_sizes_get(mem, 0, 4) == ESUCCESS
    assert (mem.u32(0), mem.u32(4)) == (2, 9)  # "prog\0a b\0"
    assert wasi.args_get(mem, 16, 64) == ESUCCESS
    assert (mem.u32(16), mem.u32(20)) == (64, 69)
    assert mem.view(64, 9).tobytes() == b"prog\0a b\0"
    assert wasi.environ_sizes_get(mem, 0, 4) == ESUCCESS
    assert (mem.u32(0), mem.u32(4)) == (1, 4)
    assert wasi.environ_get(mem, 24, 100) == ESUCCESS
    assert mem.u32(24) == 100 and mem.view(100, 4).tobytes() == b"K=V\0"
    assert wasi.args_get(mem, 16, 250) == EFAULT  # the strings would end past the memory
    assert wasi.environ_get(mem, 254, 100) == EFAULT  # the pointer array would


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (b"./models/x.tflite", b"x"),
        (b"/opt/app/models/x.tflite", b"x"),
        (b"x", b"x"),
        (b"models/x.v2", b"x.v2"),
        (b".tflite", b".tflite"),
        (b"models/", b""),
    ],
)
def test_device_path_maps_to_the_store_name(path: bytes, name: bytes) -> None:
    start, length = model_name_span(path)
    assert path[start : start + length] == name


def test_dotdot_leaves_the_store() -> None:
    with pytest.raises(NnFailure, match="leaves the model store"):
        model_name_span(b"./models/../../etc/x.tflite")
