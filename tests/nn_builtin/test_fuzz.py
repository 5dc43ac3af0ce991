"""Builds the libFuzzer harness (runtime_c/nn/builtin/fuzz/fuzz_model.c) and runs it for a
bounded time from the committed seed corpus: no crash, no sanitizer report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from build_tools import nnb
from build_tools.paths import build_root, repo_root
from build_tools.toolchains import cmake

SEEDS = repo_root() / "tests" / "corpus" / "model"
FUZZ_SECONDS = 20


@pytest.mark.slow
def test_fuzz_model_bounded_run(tmp_path: Path) -> None:
    if shutil.which("clang-19") is None or shutil.which("cmake") is None:
        pytest.skip("clang-19 and cmake are needed (ci/setup.sh installs them)")
    out = build_root() / "nnb" / "fuzz"
    cmake.build(
        nnb.SOURCE_DIR,
        out,
        {"CMAKE_C_COMPILER": "clang-19", "NNB_FUZZ": True},
        target="fuzz_model",
    )
    scratch = tmp_path / "corpus"
    scratch.mkdir()
    proc = subprocess.run(
        [
            str(out / "fuzz_model"),
            f"-max_total_time={FUZZ_SECONDS}",
            "-max_len=8192",
            "-timeout=10",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
            str(scratch),
            str(SEEDS),
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
        check=False,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "Done" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")), tail


def test_seed_corpus_is_small_and_current() -> None:
    """The committed seeds are the models tflite_gen.corpus() names, a few KB in all."""
    from tests.nn_builtin import tflite_gen

    present = {p.name: p.stat().st_size for p in SEEDS.glob("*.tflite")}
    assert sorted(present) == sorted(tflite_gen.corpus()), (
        "regenerate: python -m tests.nn_builtin.tflite_gen tests/corpus/model"
    )
    assert sum(present.values()) < 16 * 1024


def test_seed_corpus_runs(nnb_check_release: Path) -> None:
    seeds = sorted(SEEDS.glob("*.tflite"))
    proc = subprocess.run(
        [str(nnb_check_release), "--invoke", *map(str, seeds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for seed, line in zip(seeds, proc.stdout.splitlines(), strict=True):
        want = "parse unsupported_operation" if seed.name.startswith("tanh") else "done ok"
        assert line.startswith(want), (seed.name, line)
