"""The qemu-rv32 platform's allocator (runtime_c/platform/qemu-rv32/qrv_heap.c) built natively
with ASan + UBSan and driven by test/heap_check.c: a linear memory placed with room to grow to
its cap grows in place beside other blocks, a block grows into a free block before it, and
random alloc/resize/free sequences keep every block's contents and the heap's tags intact."""

from __future__ import annotations

import subprocess
from pathlib import Path

from build_tools import runtime_c

QRV = runtime_c.runtime_dir() / "platform" / "qemu-rv32"


def test_qrv_heap_checks_hold(tmp_path: Path) -> None:
    exe = tmp_path / "heap_check"
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            f"-I{QRV}",
            "-o",
            str(exe),
            str(QRV / "test" / "heap_check.c"),
            str(QRV / "qrv_heap.c"),
        ],
        check=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "all checks hold" in run.stdout
