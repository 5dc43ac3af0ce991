"""Adapter for qemu-system-riscv32 running bare-metal firmware on the `virt` machine.

The serial line is a TCP server on loopback that waits for its client (`wait=on`): with
`nowait` or a pty, what the firmware prints before the client connects is lost.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

from . import runner

log = logging.getLogger(__name__)

QEMU = "qemu-system-riscv32"
INSTALL_HINT = "apt-get install -y qemu-system-misc"
# -m below 3M collides with the device tree QEMU places in DRAM; the firmware's own linker
# script caps what it uses at the target's RAM budget.
MEMORY = "8M"


def system_argv(
    firmware: Path, port: int, icount_shift: int | None = None, host: str = "127.0.0.1"
) -> list[str]:
    argv = [
        QEMU,
        "-M",
        "virt",
        "-m",
        MEMORY,
        "-display",
        "none",
        "-monitor",
        "none",
        "-bios",
        "none",
        "-kernel",
        str(firmware),
        "-serial",
        # nodelay: the UART sends byte by byte; with Nagle on, each response waits for a
        # delayed ACK (~40 ms per round trip on loopback instead of ~6 ms).
        f"tcp:{host}:{port},server=on,wait=on,nodelay=on",
    ]
    if icount_shift is not None:
        # Deterministic virtual time: each instruction advances the clock by 2**shift ns.
        argv += ["-icount", f"shift={icount_shift}"]
    return argv


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on loopback right now (QEMU binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Starts QEMU in the background, stdout/stderr to log_path; the caller owns the process."""
    runner.require(QEMU, INSTALL_HINT)
    log.debug("start: %s", " ".join(argv))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)


def exit_status(returncode: int) -> str:
    """What a QEMU exit status means for firmware of this project (sifive_test codes)."""
    meanings = {
        0: "exited cleanly",
        3: "fatal CPU trap in firmware",
    }
    if returncode < 0:
        return f"killed by signal {-returncode}"
    if returncode >= 128:
        return f"firmware aborted (signal {returncode - 128})"
    return meanings.get(returncode, f"exit code {returncode}")
