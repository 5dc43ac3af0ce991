"""Command lines of the qemu-rv32 tool adapters, by exact list equality."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_tools.toolchains import qemu, riscv_gcc


def test_qemu_system_argv() -> None:
    assert qemu.system_argv(Path("b/fw.elf"), 4321) == [
        "qemu-system-riscv32", "-M", "virt", "-m", "8M", "-display", "none", "-monitor", "none",
        "-bios", "none", "-kernel", "b/fw.elf",
        "-serial", "tcp:127.0.0.1:4321,server=on,wait=on,nodelay=on",
    ]  # fmt: skip


def test_qemu_system_argv_icount() -> None:
    argv = qemu.system_argv(Path("fw.elf"), 1, icount_shift=0)
    assert argv[-2:] == ["-icount", "shift=0"]


def test_gcc_compile_argv_strict_and_generated() -> None:
    assert riscv_gcc.compile_argv(Path("a.c"), Path("o/a.o"), [Path("inc")], ["X=1"]) == [
        "riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs",
        "-Os", "-g", "-ffunction-sections", "-fdata-sections", "-std=c99", "-Wall", "-Wextra",
        "-Werror", "-DX=1", "-Iinc", "-c", "-o", "o/a.o", "a.c",
    ]  # fmt: skip
    relaxed = riscv_gcc.compile_argv(Path("g.c"), Path("g.o"), [], [], strict=False)
    assert relaxed[8:10] == ["-std=gnu11", "-w"]


def test_gcc_link_argv() -> None:
    argv = riscv_gcc.link_argv([Path("a.o"), Path("b.o")], Path("fw.ld"), Path("fw.elf"), Path("m"))
    assert argv == [
        "riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs",
        "-Os", "-g", "-Wl,--gc-sections", "-Tfw.ld", "-Wl,-Map=m", "-o", "fw.elf", "a.o", "b.o",
        "-lm",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ld: fw.elf section `.bss' will not fit in region `ram'\n"
         "ld: region `ram' overflowed by 1234 bytes\n", [("ram", 1234)]),
        ("ld: region 'flash' overflowed by 7 bytes", [("flash", 7)]),
        ("undefined reference to `foo'", []),
    ],
)  # fmt: skip
def test_parse_overflow(text: str, expected: list[tuple[str, int]]) -> None:
    assert riscv_gcc.parse_overflow(text) == expected


def test_too_large_message() -> None:
    e = riscv_gcc.FirmwareTooLarge("ram", 1234, 400)
    assert str(e) == "firmware does not fit: RAM overflowed by 1234 bytes (budget 400 KiB)"
