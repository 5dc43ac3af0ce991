"""The request fuzzer (runtime_c/core/fuzz/fuzz_requests.c): the real core, wasm2c engine with
the posix target's guests and EVP modules, and posix platform, built with libFuzzer, ASan and
UBSan (cmake -DRT_APP=fuzz), runs for a bounded time from the committed seed corpus: no crash,
no sanitizer report, no heap left after RESET / shutdown."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import cmake_defines, variant_dir
from build_tools.runtime_c import runtime_dir
from build_tools.toolchains import cmake

from .requests_corpus import CORPUS_DIR, corpus

FUZZ_SECONDS = 20


def build_fuzzer(runtime: RuntimeImage) -> Path:
    """The harness over the generated sources of the posix ASan runtime (built once)."""
    target = runtime.target
    out = variant_dir(target, sanitize=True).parent / "fuzz-requests"
    defines = cmake_defines(target, runtime.sources, True, None, app="fuzz")
    defines["CMAKE_C_COMPILER"] = "clang-19"
    cmake.build(runtime_dir(), out, defines, target="rt_fuzz_requests")
    binary = out / "rt_fuzz_requests"
    assert binary.is_file(), f"cmake did not produce {binary}"
    return binary


def test_committed_corpus_matches_the_protocol() -> None:
    committed = {p.name: p.read_bytes() for p in CORPUS_DIR.glob("*.bin")}
    assert committed == corpus(), "regenerate: .venv/bin/python -m tests.runtime_c.requests_corpus"


@pytest.mark.slow
def test_fuzz_requests_bounded_run(posix_runtime_asan: RuntimeImage, tmp_path: Path) -> None:
    binary = build_fuzzer(posix_runtime_asan)
    scratch = tmp_path / "corpus"
    scratch.mkdir()
    proc = subprocess.run(
        [
            str(binary),
            str(scratch),
            str(CORPUS_DIR),
            f"-max_total_time={FUZZ_SECONDS}",
            "-rss_limit_mb=2048",
            "-close_fd_mask=2",  # the runtime's log lines (stderr); reports still show
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
        check=False,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "Done " in proc.stderr and "stat::number_of_executed_units" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("leak-*")), tail
