"""Fixtures of the built-in backend's tests: the libraries (release, ASan) built once per
session with the cmake adapter, and the TFLM oracle when its wheel exists here."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from build_tools import nnb
from edge_runtime.host.backends import builtin


@pytest.fixture(scope="session", params=["release", "scalar"])
def nnb_backend(request: pytest.FixtureRequest) -> builtin.BuiltinBackend:
    """The library as the host builds it (SIMD kernel shapes), then the same sources with the
    kernel shapes of MCUs without SIMD (NNB_SCALAR_KERNELS): every test runs on both."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed (ci/setup.sh installs it)")
    if request.param == "release":
        return builtin.BuiltinBackend()
    return builtin.BuiltinBackend(builtin.open_library(nnb.build_library(request.param)))


def _nnb_check(config: str) -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed (ci/setup.sh installs it)")
    nnb.build_library(config, target="nnb_check")
    return nnb.build_dir(config) / "nnb_check"


@pytest.fixture(scope="session")
def nnb_check_release() -> Path:
    return _nnb_check("release")


@pytest.fixture(scope="session")
def nnb_check_asan() -> Path:
    return _nnb_check("asan")


@pytest.fixture(scope="session")
def tflm() -> Any:
    """The tflite-micro runtime module (the oracle), or a skip saying why not."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        pytest.skip("tflite-micro is not installed here (x86_64 wheels only)")
    return runtime


@pytest.fixture
def tflm_from_bytes(tflm: Any) -> Callable[[bytes], Any]:
    def make(model: bytes) -> Any:
        return tflm.Interpreter.from_bytes(model)

    return make
