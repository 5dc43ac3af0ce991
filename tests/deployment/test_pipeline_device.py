"""Deployments on a C-runtime device, what only a device has: modules that must be uploaded or
compiled in, a device that holds one deployment. (The shared semantics run on every runtime in test_pipeline.py.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from build_tools.cli import run as cli_run
from build_tools.devices.base import open_device
from edge_runtime.deployment import DeploymentError
from tests.deployment.conftest import RUNTIMES, deployment_of, device_options, manifest


def test_module_neither_loadable_nor_built_in_is_one_line(
    evp_modules: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The posix target's default engine is wasm2c: it runs only the EVP modules compiled into
    # it (guests.evp_modules), and a plate stage is not one of them.
    m = manifest(
        evp_modules,
        {"src": ("evp_source", {"out": "t"}, {}), "crop": ("plate_crop", {}, {"in": "t"})},
    )
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(m))
    assert cli_run(["run", "posix", "--deployment", str(path), "--for", "1"]) == 2
    sha = hashlib.sha256(evp_modules["plate_crop"].read_bytes()).hexdigest()
    assert capsys.readouterr().err.splitlines() == [
        f"error: posix: module plate_crop (sha256 {sha}) is not built into this wasm2c runtime, "
        "which cannot load code at run time",
        "hint: run it with --engine wamr (loads modules at run time), or add it to "
        "guests.evp_modules of posix.toml and rebuild",
    ]


def test_a_failed_start_leaves_the_device_ready_for_the_next_deployment(
    evp_modules: dict[str, Path],
) -> None:
    target = RUNTIMES["posix"]
    good = manifest(
        evp_modules,
        {"src": ("evp_source", {"out": "t"}, {}), "dst": ("evp_sink", {}, {"in": "t"})},
        {"src": {"config": {"count": 2}}},
    )
    # The second instance's topic does not fit the protocol (1-64 bytes): refused after the
    # first instance was bound.
    bad = manifest(
        evp_modules,
        {"src": ("evp_source", {"out": "t"}, {}), "dst": ("evp_sink", {}, {"in": "x" * 65})},
    )
    with open_device(target, device_options("posix")) as dut:
        first = dut.deployment(deployment_of(bad), lambda _e: None)
        with pytest.raises(DeploymentError) as e:
            first.start()
        assert str(e.value) == f"instance dst: topic {'x' * 65!r} is not 1-64 bytes without NUL"
        first.stop()
        second = dut.deployment(deployment_of(good), lambda _e: None)
        second.start()
        try:
            assert second.wait(seconds=20, messages=2)
        finally:
            second.stop()
