"""Several processes building the same target at once (e.g. four `run host ...` started right
after `clean`): they take turns under the target's lock and all succeed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from build_tools.buildlock import LOCK_NAME, atomic_write, target_lock

REPO = Path(__file__).resolve().parents[2]

needs_clang = pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 not installed")


def _build(out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "BUILD_TOOLS_BUILD_DIR": str(out)}  # the child's build location
    return subprocess.Popen(
        [sys.executable, "-m", "build_tools", "build", "host"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@needs_clang
def test_a_build_waits_for_the_target_lock(tmp_path: Path) -> None:
    out = tmp_path / "build"
    try:
        with target_lock(out / "host"):
            proc = _build(out)
            time.sleep(2.0)
            assert proc.poll() is None, "the build ran while another held the target's lock"
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0, stderr
    assert "(rebuilt: hello, classify, nn_probe, image_probe, plates, legacy_probe)" in stdout


@needs_clang
def test_concurrent_builds_of_one_target_all_succeed(tmp_path: Path) -> None:
    out = tmp_path / "build"
    procs = [_build(out) for _ in range(4)]
    outputs = [p.communicate(timeout=600) for p in procs]
    results = [(p.returncode, o) for p, o in zip(procs, outputs, strict=True)]
    for code, (_, stderr) in results:
        assert code == 0, stderr
    rebuilt = [o for _, (o, _) in results if "(rebuilt: nothing (up to date))" not in o]
    assert len(rebuilt) == 1  # one process compiled, the others found it up to date
    guests = out / "host" / "guests"
    manifest = json.loads((guests / "manifest.json").read_text())
    assert {m["name"] for m in manifest["modules"]} == {
        "hello",
        "classify",
        "nn_probe",
        "image_probe",
        "plates",
        "legacy_probe",
    }
    leftovers = [p.name for p in guests.rglob("*") if ".tmp" in p.name]
    assert not leftovers


def test_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    with target_lock(tmp_path), target_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).exists()
    with target_lock(tmp_path):  # released: can be taken again
        pass


def test_atomic_write_leaves_no_temporary(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.bin", b"x" * 10)
    atomic_write(tmp_path / "a.bin", b"y")
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"y"
