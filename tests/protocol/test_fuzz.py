"""The libFuzzer harness builds with clang-19 and survives a bounded run from the seed corpus."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from tests.protocol.conftest import built
from tests.protocol.corpus import CORPUS_DIR, corpus

log = logging.getLogger(__name__)


def test_committed_corpus_matches_the_protocol() -> None:
    expected = corpus()
    committed = {p.name: p.read_bytes() for p in CORPUS_DIR.glob("*.bin")}
    assert committed == expected, "regenerate with: .venv/bin/python -m tests.protocol.corpus"


@pytest.mark.slow
def test_fuzz_frames_bounded_run(tmp_path: Path) -> None:
    binary = built("fuzz")
    work = tmp_path / "corpus"
    work.mkdir()
    argv = [
        str(binary),
        str(work),
        str(CORPUS_DIR),
        "-max_total_time=20",
        "-rss_limit_mb=1024",
        "-print_final_stats=1",
        f"-artifact_prefix={tmp_path}/",
    ]
    log.debug("run: %s", " ".join(argv))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    tail = "\n".join(proc.stderr.splitlines()[-25:])
    assert proc.returncode == 0, f"fuzzer failed (exit {proc.returncode}):\n{tail}"
    assert "Done " in proc.stderr and "stat::number_of_executed_units" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
