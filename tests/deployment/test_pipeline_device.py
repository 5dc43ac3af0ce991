"""Deployments on a C-runtime device, what only a device has: modules that must be uploaded or
built into the firmware. (The shared semantics run on every runtime in test_pipeline.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from build_tools.cli import run as cli_run
from tests.deployment.conftest import manifest


def test_engine_without_deployments_is_one_line(
    evp_modules: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The posix target's default engine is wasm2c: it runs no deployments (docs/pipeline.md 9).
    m = manifest(
        evp_modules,
        {"src": ("evp_source", {"out": "t"}, {}), "dst": ("evp_sink", {}, {"in": "t"})},
    )
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(m))
    assert cli_run(["run", "posix", "--deployment", str(path), "--for", "1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: target posix: its wasm2c runtime does not run deployments (the device does not "
        "announce the PIPELINES capability)",
        "hint: the wamr engine runs them: --engine wamr",
    ]
