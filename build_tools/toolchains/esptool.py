"""The one adapter for esptool (its Python API, esptool 5.x; no subprocess).

`FlashPlan` is what `flash` writes: the chip, the flash parameters and (offset, file) regions.
`merged_image` runs esptool's own `merge_bin` (board-free). `write` connects to the board,
checks that its chip is the plan's, runs the flasher stub (unless `stub=False`: the ROM loader
is used directly), attaches the flash, writes every region compressed (esptool verifies each by
MD5) and resets. esptool's messages go to a logger of ours: its progress bars become one bar on
stderr, the rest is kept for the error message. Every failure is one DeviceError line naming
the port and the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from edge_runtime.errors import DeviceError

log = logging.getLogger(__name__)

CONNECT_MODES = ("default-reset", "usb-reset", "no-reset")
RESET_MODES = ("hard-reset", "no-reset", "watchdog-reset")


@dataclass(frozen=True)
class Region:
    offset: int
    path: Path
    role: str = ""

    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class FlashPlan:
    chip: str  # esptool chip name (esp32, esp32s3, esp32c3)
    flash_mode: str
    flash_size: str
    regions: tuple[Region, ...]


def chip_display_name(chip: str) -> str:
    """esptool's CHIP_NAME for a chip argument ("esp32s3" -> "ESP32-S3")."""
    from esptool.targets import CHIP_DEFS

    if chip not in CHIP_DEFS:
        raise DeviceError(f"esptool does not know the chip {chip!r}")
    name: str = CHIP_DEFS[chip].CHIP_NAME
    return name


def merged_image(plan: FlashPlan) -> bytes:
    """The regions as one raw image from offset 0 (gaps 0xFF), by esptool's merge_bin, with the
    images' flash parameters kept as built (what `write` puts on the board)."""
    from esptool.cmds import merge_bin

    with _esptool_logger(_make_logger(lambda done, total, what: None)):
        data: bytes = merge_bin(
            [(r.offset, r.data()) for r in plan.regions],
            plan.chip,
            output=None,
            flash_mode="keep",
            flash_freq="keep",
            flash_size="keep",
            format="raw",
        )
    return data


class _Logger:
    """esptool's output: progress bars are drawn by `progress`, the rest kept in `lines`."""

    def __init__(self, progress: Callable[[int, int, str], None]) -> None:
        self.progress = progress
        self.lines: list[str] = []

    def _keep(self, *args: Any) -> None:
        text = " ".join(str(a) for a in args).strip()
        if text:
            self.lines.append(text)
            log.debug("esptool: %s", text)


def _make_logger(progress: Callable[[int, int, str], None]) -> Any:
    from esptool.logger import TemplateLogger

    class Logger(_Logger, TemplateLogger):
        def print(self, *args: Any, **kwargs: Any) -> None:
            self._keep(*args)

        def note(self, message: str) -> None:
            self._keep("note:", message)

        def warning(self, message: str) -> None:
            self._keep("warning:", message)

        def error(self, message: str) -> None:
            self._keep("error:", message)

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(
            self,
            cur_iter: int,
            total_iters: int,
            prefix: str = "",
            suffix: str = "",
            bar_length: int = 30,
        ) -> None:
            self.progress(cur_iter, total_iters, prefix.strip())

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return Logger(progress)


@contextlib.contextmanager
def _esptool_logger(logger: Any) -> Iterator[None]:
    from esp_pylib.logger import EspLog
    from esptool.logger import log as esptool_log

    previous = EspLog.instance
    esptool_log.set_logger(logger)
    try:
        yield
    finally:
        EspLog.instance = previous


class TextProgress:
    """A one-line progress bar redrawn in place (what `flash` shows)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.open = False  # a bar is drawn and its line not ended

    def __call__(self, done: int, total: int, what: str) -> None:
        total = max(total, 1)
        filled = self.width * done // total
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{what:<28.28} [{bar}] {100 * done // total:3d}%")
        self.open = done < total
        if not self.open:
            self.stream.write("\n")
        self.stream.flush()

    def end_line(self) -> None:
        """Ends a bar left half-drawn (a failure mid-write), so the error starts a line."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


@dataclass(frozen=True)
class FlashResult:
    chip: str  # what the board said it is
    mac: str
    regions: tuple[tuple[int, int, str], ...]  # (offset, size, sha256) written and verified


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def write(
    plan: FlashPlan,
    port: str,
    baud: int | None = None,
    *,
    stub: bool = True,
    before: str = "default-reset",
    after: str = "hard-reset",
    progress: Callable[[int, int, str], None] | None = None,
    connect_attempts: int = 3,
) -> FlashResult:
    """Writes the plan to the board on `port`; see the module docstring."""
    from esptool.cmds import attach_flash, detect_chip, reset_chip, run_stub, write_flash
    from esptool.util import FatalError, NotImplementedInROMError, UnsupportedCommandError

    if before not in CONNECT_MODES:
        raise DeviceError(f"--before {before!r}: one of {', '.join(CONNECT_MODES)}")
    if after not in RESET_MODES:
        raise DeviceError(f"--after {after!r}: one of {', '.join(RESET_MODES)}")
    want = chip_display_name(plan.chip)
    logger = _make_logger(progress or (lambda done, total, what: None))
    images = [(r.offset, r.data()) for r in plan.regions]
    with _esptool_logger(logger):
        try:
            esp = detect_chip(port, connect_mode=before, connect_attempts=connect_attempts)
        except (FatalError, OSError) as e:
            raise DeviceError(f"{port}: {_reason(e)}", hint=_connect_hint(before)) from e
        try:
            if want != esp.CHIP_NAME:
                raise DeviceError(
                    f"{port}: the board is an {esp.CHIP_NAME}, the target needs an {want}",
                    hint="pick the target that matches the board (python -m build_tools targets)",
                )
            mac = ":".join(f"{b:02x}" for b in esp.read_mac())
            if stub:
                esp = run_stub(esp)
            if baud is not None and baud != esp._port.baudrate:
                esp.change_baud(baud)
            attach_flash(esp)
            # "keep": the bootloader header already carries the target's flash mode and size
            # (sdkconfig.defaults), so the bytes written are exactly the files' bytes.
            write_flash(
                esp, images, flash_mode="keep", flash_freq="keep", flash_size="keep", compress=True
            )
            reset_chip(esp, after)
        except DeviceError:
            raise
        except (FatalError, NotImplementedInROMError, UnsupportedCommandError, OSError) as e:
            raise DeviceError(f"{port}: flashing failed: {_reason(e)}") from e
        finally:
            with contextlib.suppress(Exception):
                esp._port.close()
    written = tuple(
        (offset, len(data), hashlib.sha256(data).hexdigest()) for offset, data in images
    )
    return FlashResult(esp.CHIP_NAME, mac, written)


def _connect_hint(before: str) -> str:
    if before == "no-reset":
        return "put the board in download mode (hold BOOT, tap RESET) and try again"
    return "check the cable and the port name; hold BOOT while connecting if the board has no auto-reset"
