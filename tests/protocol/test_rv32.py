"""The device side compiles for a bare-metal rv32 MCU (picolibc), warning-free."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_tools.toolchains.runner import run
from tests.protocol.builds import PROTO_SRC

GCC = "riscv64-unknown-elf-gcc"
FLAGS = ["-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs", "-Os", "-std=c99"]


@pytest.mark.parametrize("source", sorted(p.name for p in PROTO_SRC.glob("proto_*.c")))
def test_compiles_for_rv32(source: str, tmp_path: Path) -> None:
    if shutil.which(GCC) is None:
        pytest.skip(f"{GCC} not found on PATH (apt package gcc-riscv64-unknown-elf)")
    obj = tmp_path / (source + ".o")
    argv = [
        GCC,
        *FLAGS,
        "-Wall",
        "-Wextra",
        "-Werror",
        "-c",
        str(PROTO_SRC / source),
        "-o",
        str(obj),
    ]
    run(argv, f"rv32 compile of {source}")
    assert obj.stat().st_size > 0
