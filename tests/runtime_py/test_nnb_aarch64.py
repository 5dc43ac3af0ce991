"""The runtime wheel's prebuilt aarch64 libnnb runs: a small driver (nnb_run.c) linked against
that very .so runs under qemu-user with Debian's arm64 C library, and its outputs are
bit-exact with the tflite-micro oracle on the shared models (two seeds each)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from build_tools import nnb
from build_tools.paths import repo_root
from tests.conftest import shared_file

SYSROOT = Path("/usr/aarch64-linux-gnu")  # Debian's libc6-dev-arm64-cross
MODELS = ["vww_96_int8", "kws_ref_model", "ad01_int8", "person_detect", "hello_world_int8"]


@pytest.fixture(scope="module")
def aarch64_driver(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    lib = nnb.library_for("aarch64")
    out = tmp_path_factory.mktemp("nnb-aarch64") / "nnb_run"
    subprocess.run(
        [
            "clang-19",
            "--target=aarch64-linux-gnu",
            "-fuse-ld=lld",
            "-O2",
            f"-I{repo_root() / 'runtime_c/nn/builtin'}",
            str(Path(__file__).with_name("nnb_run.c")),
            f"-L{lib.parent}",
            "-lnnb",
            "-o",
            str(out),
        ],
        check=True,
    )
    return out, lib


def _run_aarch64(driver: tuple[Path, Path], model: Path, x: np.ndarray, tmp: Path) -> bytes:
    exe, lib = driver
    inp = tmp / "input.bin"
    inp.write_bytes(x.tobytes())
    qemu = ["qemu-aarch64", "-L", str(SYSROOT), "-E", f"LD_LIBRARY_PATH={lib.parent}"]
    r = subprocess.run(
        [*qemu, str(exe), str(model), str(inp)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return bytes.fromhex(r.stdout.strip())


@pytest.fixture(scope="module")
def tflm() -> Any:
    """The oracle: tflite-micro's Python interpreter (installed by the set-up, x86_64)."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def test_the_driver_is_an_aarch64_program(aarch64_driver: tuple[Path, Path]) -> None:
    assert aarch64_driver[0].read_bytes()[18:20] == (183).to_bytes(2, "little")  # EM_AARCH64


@pytest.mark.parametrize("name", MODELS)
def test_prebuilt_aarch64_libnnb_matches_the_oracle(
    name: str, aarch64_driver: tuple[Path, Path], tflm: Any, tmp_path: Path
) -> None:
    model = shared_file(f"models/{name}.tflite")
    oracle = tflm.Interpreter.from_file(str(model))
    details = oracle.get_input_details(0)
    dtype = np.dtype(details["dtype"])
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        lim = np.iinfo(dtype)
        x = rng.integers(lim.min, lim.max + 1, size=details["shape"], dtype=dtype)
        got = _run_aarch64(aarch64_driver, model, x, tmp_path)
        oracle.set_input(x, 0)
        oracle.invoke()
        want = oracle.get_output(0)
        assert got == want.tobytes(), f"{name} seed {seed}"
        assert len(got) == want.nbytes > 0
