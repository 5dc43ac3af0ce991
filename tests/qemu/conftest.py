"""Fixtures for the emulated MCU: toolchain checks, the protocol firmware, and a guard that
fails any test leaving a QEMU process behind."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.firmware.cmake import Firmware, build_protocol_firmware
from build_tools.targets import Target, load_target

QEMU_COMM = "qemu-system-ris"  # /proc/<pid>/comm is truncated to 15 characters


def require_tools() -> None:
    for tool, package in (
        ("riscv64-unknown-elf-gcc", "gcc-riscv64-unknown-elf"),
        ("qemu-system-riscv32", "qemu-system-misc"),
    ):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt-get install {package})")


def qemu_children() -> list[int]:
    """PIDs of live (not zombie) QEMU processes whose parent is this test process."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if ppid == me and comm.startswith(QEMU_COMM) and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_leftover_qemu() -> Iterator[None]:
    before = set(qemu_children())
    yield
    deadline = time.monotonic() + 2.0
    left = set(qemu_children()) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = set(qemu_children()) - before
    assert not left, f"QEMU processes left running after the test: {sorted(left)}"


@pytest.fixture(scope="session")
def qemu_target() -> Target:
    return load_target("qemu-rv32")


@pytest.fixture(scope="session")
def protocol_firmware(qemu_target: Target) -> Firmware:
    """Built once per session in the project's build tree (incremental across runs)."""
    require_tools()
    return build_protocol_firmware(qemu_target)
