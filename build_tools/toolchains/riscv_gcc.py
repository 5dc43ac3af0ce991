"""Adapter for Debian's riscv64-unknown-elf-gcc + picolibc building bare-metal rv32 firmware.

argv builders are pure (tested by exact list equality); the runners log every argv at debug
level (through `runner`) and turn linker overflows into a clear "does not fit" error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToolchainError
from . import runner

GCC = "riscv64-unknown-elf-gcc"
INSTALL_HINT = "apt-get install -y gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"

# rv32imac/ilp32 is a multilib of Debian's toolchain; a -march with _zicsr would select the
# default rv64 multilib instead (the port enables zicsr around its CSR instructions).
ARCH_FLAGS = ["-march=rv32imac", "-mabi=ilp32"]
COMMON_FLAGS = [*ARCH_FLAGS, "--specs=picolibc.specs", "-Os", "-g"]
SECTION_FLAGS = ["-ffunction-sections", "-fdata-sections"]
STRICT_WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
# wasm2c output and wabt's runtime are generated/third-party code: C11, warnings off.
GENERATED_WARNINGS = ["-std=gnu11", "-w"]

_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


class FirmwareTooLarge(ToolchainError):
    """The linker could not fit the image into a memory region of the target."""

    def __init__(self, region: str, overflow: int, budget_kib: int) -> None:
        name = {"ram": "RAM", "flash": "flash"}.get(region, region)
        super().__init__(
            f"firmware does not fit: {name} overflowed by {overflow} bytes (budget {budget_kib} KiB)",
            hint="remove guests or models from the target's [guests] lists, or raise its memory budget",
        )
        self.region = region
        self.overflow = overflow
        self.budget_kib = budget_kib


def compile_argv(
    source: Path,
    output: Path,
    include_dirs: Sequence[Path],
    defines: Sequence[str],
    strict: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    return [
        GCC,
        *COMMON_FLAGS,
        *SECTION_FLAGS,
        *(STRICT_WARNINGS if strict else GENERATED_WARNINGS),
        *extra,
        *[f"-D{d}" for d in defines],
        *[f"-I{d}" for d in include_dirs],
        "-c",
        "-o",
        str(output),
        str(source),
    ]


def link_argv(
    objects: Sequence[Path], linker_script: Path, output: Path, map_file: Path
) -> list[str]:
    return [
        GCC,
        *COMMON_FLAGS,
        "-Wl,--gc-sections",
        f"-T{linker_script}",
        f"-Wl,-Map={map_file}",
        "-o",
        str(output),
        *[str(o) for o in objects],
        "-lm",
    ]


def compile_c(
    source: Path,
    output: Path,
    include_dirs: Sequence[Path],
    defines: Sequence[str],
    strict: bool = True,
    extra: Sequence[str] = (),
) -> None:
    runner.require(GCC, INSTALL_HINT)
    output.parent.mkdir(parents=True, exist_ok=True)
    runner.run(
        compile_argv(source, output, include_dirs, defines, strict, extra),
        f"compiling {source.name}",
    )


def parse_overflow(text: str) -> list[tuple[str, int]]:
    """(region, bytes) for every "region `x' overflowed by N bytes" line of the linker."""
    return [(m.group(1), int(m.group(2))) for m in _OVERFLOW.finditer(text)]


def link(
    objects: Sequence[Path],
    linker_script: Path,
    output: Path,
    map_file: Path,
    budgets_kib: dict[str, int],
) -> None:
    """Links; a region overflow raises FirmwareTooLarge naming the region and the budget."""
    runner.require(GCC, INSTALL_HINT)
    try:
        runner.run(link_argv(objects, linker_script, output, map_file), f"linking {output.name}")
    except ToolchainError as e:
        overflows = parse_overflow(str(e))
        if overflows:
            region, n = max(overflows, key=lambda o: o[0] == "ram")
            raise FirmwareTooLarge(region, n, budgets_kib.get(region, 0)) from e
        raise
