"""The serial console of a C-runtime device: one byte stream split into protocol frames and log
text, with firmware addresses in panic output decoded from the ELF.

`StreamSplitter` separates frames from text. Everything between two 0x00 delimiters that parses
as a frame (COBS, magic, CRC; docs/protocol.md) is a frame; everything else is text. A line of
text is released as soon as it ends in a newline and is all printable (ANSI colours allowed) —
a COBS frame body never is (its version byte is 0x01) — so logs appear while no frame is on
the line, and a frame's bytes are never shown as text.

`Symbolizer` maps code addresses to `function+offset` with pyelftools from the ELF's function
symbols (the function that contains the address, as linked; inlined callees are not resolved —
for that, run the toolchain's addr2line -pfia on the addresses shown).
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.protocol.framing import Frame, FrameError, cobs_decode, parse_body
from edge_runtime.protocol.messages import MsgType, Status, unpack_hello

log = logging.getLogger(__name__)

_PRINTABLE = re.compile(rb"^[\x20-\x7e\t\r\x1b]*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{8}")
# Lines of an ESP-IDF panic report (Xtensa and RISC-V) whose addresses are worth decoding,
# and the qemu-rv32 port's own trap line.
_PANIC = re.compile(r"Backtrace:|Guru Meditation|MEPC|\bRA\s*:|\bPC\s*:|abort\(\)|fatal trap")
MAX_TEXT = 4096  # a "line" longer than this without a newline is shown as it is


@dataclass(frozen=True)
class TextLine:
    text: str


@dataclass(frozen=True)
class FrameEvent:
    frame: Frame


Event = TextLine | FrameEvent


class StreamSplitter:
    """Feed bytes, get TextLine and FrameEvent events in wire order."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        for b in data:
            if b == 0:
                out += self._delimiter()
            else:
                self._buf.append(b)
                if b == 0x0A or len(self._buf) >= MAX_TEXT:
                    out += self._release_text()
        return out

    def flush(self) -> list[Event]:
        """At the end (or after a quiet period): whatever is buffered, as text."""
        out: list[Event] = [TextLine(t) for t in _lines(bytes(self._buf))]
        self._buf.clear()
        return out

    def _delimiter(self) -> list[Event]:
        chunk = bytes(self._buf)
        self._buf.clear()
        if not chunk:
            return []
        try:
            frame = parse_body(cobs_decode(chunk))
        except ValueError:
            frame = FrameError.BAD_FRAME
        if isinstance(frame, Frame):
            return [FrameEvent(frame)]
        return [TextLine(t) for t in _lines(chunk)]

    def _release_text(self) -> list[Event]:
        chunk = bytes(self._buf)
        if len(chunk) < MAX_TEXT and not _PRINTABLE.match(chunk):
            return []  # maybe part of a frame: wait for the delimiter
        self._buf.clear()
        return [TextLine(t) for t in _lines(chunk)]


def _lines(chunk: bytes) -> list[str]:
    text = _ANSI.sub("", chunk.decode("utf-8", "replace"))
    return [ln.rstrip("\r") for ln in text.split("\n") if ln.strip("\r\t ")]


def describe_frame(frame: Frame) -> str:
    """One line for a frame: direction, type, seq, and for responses the status (and HELLO)."""
    try:
        name = MsgType(frame.type).name
    except ValueError:
        name = f"type 0x{frame.type:02x}"
    if not frame.is_response:
        return f">> {name} seq={frame.seq} ({len(frame.payload)} B)"
    if len(frame.payload) < 2:
        return f"<< {name} seq={frame.seq} (no status)"
    code = int.from_bytes(frame.payload[:2], "little")
    try:
        status = Status(code).name
    except ValueError:
        status = f"status {code}"
    body = frame.payload[2:]
    line = f"<< {name} seq={frame.seq} {status}"
    if code in (Status.OK, Status.PRESENT) and frame.type == MsgType.HELLO:
        try:
            h = unpack_hello(body)
            line += (
                f": {h.runtime_name} {h.runtime_version} on {h.target}, engine {h.engine}, "
                f"nn {h.nn_backend}, {h.modules} modules, {h.models} models"
            )
        except ValueError:
            line += " (malformed HELLO body)"
    elif code not in (Status.OK, Status.PRESENT) and body:
        line += f": {body.decode('utf-8', 'replace')}"
    else:
        line += f" ({len(body)} B)"
    return line


@dataclass(frozen=True)
class _Function:
    start: int
    end: int
    name: str


class Symbolizer:
    """Code addresses -> `name+0xoff` from an ELF's function symbols (pyelftools)."""

    def __init__(self, elf: Path) -> None:
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection

        self.path = elf
        funcs: list[_Function] = []
        with open(elf, "rb") as f:
            ef = ELFFile(f)
            for section in ef.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for sym in section.iter_symbols():
                    if sym["st_info"]["type"] == "STT_FUNC" and sym["st_size"] > 0:
                        start = sym["st_value"] & ~1  # Thumb-style low bit, harmless elsewhere
                        funcs.append(_Function(start, start + sym["st_size"], sym.name))
        funcs.sort(key=lambda fn: fn.start)
        self._funcs = funcs
        self._starts = [fn.start for fn in funcs]

    def lookup(self, address: int) -> str | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0 or address >= self._funcs[i].end:
            return None
        fn = self._funcs[i]
        return f"{fn.name}+0x{address - fn.start:x}"

    def decode(self, text: str) -> list[str]:
        """For a panic line: one `  0xADDR: where` line per address found in the ELF's code."""
        if not _PANIC.search(text):
            return []
        out = []
        for m in _ADDRESS.finditer(text):
            where = self.lookup(int(m.group(0), 16))
            if where is not None:
                out.append(f"  {m.group(0)}: {where}")
        return out
