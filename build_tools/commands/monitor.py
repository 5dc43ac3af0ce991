"""`monitor TARGET --port PORT`: the device's serial console, decoded.

Shows log lines as they arrive, protocol frames as one line each (`<< HELLO seq=1 OK: ...`), and
under panic output the firmware addresses decoded with the ELF (the target's built firmware, or
--elf). Sends one HELLO at the start (the device never talks unprompted; --no-hello to only
listen). Runs until Ctrl-C, or --duration seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.framing import Frame, encode_frame
from edge_runtime.protocol.messages import MsgType
from edge_runtime.protocol.streams import open_url

from .. import firmware
from ..monitor import FrameEvent, StreamSplitter, Symbolizer, TextLine, describe_frame
from ..targets import Target, load_target
from . import Command

QUIET_FLUSH_S = 0.3  # text without a newline is shown after this long without new bytes


def default_elf(target: Target) -> Path | None:
    """The firmware ELF the build of this target leaves behind, if it is there."""
    builder = firmware.builder_for(target)
    elf = builder.output_path(target) if builder is not None else None
    return elf if elf is not None and elf.is_file() else None


class MonitorCommand(Command):
    name = "monitor"
    help = "serial console of a device: logs, decoded protocol frames, panic backtraces"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--port", required=True, help="device path or pyserial URL")
        parser.add_argument("--baud", type=int, help="default: the target's connection.baud")
        parser.add_argument("--elf", type=Path, help="firmware ELF for decoding addresses")
        parser.add_argument(
            "--no-hello", action="store_true", help="only listen (send no HELLO at the start)"
        )
        parser.add_argument(
            "--duration", type=float, help="stop after this many seconds (default: Ctrl-C)"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def run(self, args: argparse.Namespace) -> int:
        target = load_target(args.target)
        elf = args.elf or default_elf(target)
        if args.elf is not None and not args.elf.is_file():
            raise DeviceError(f"--elf {args.elf}: no such file")
        symbolizer = Symbolizer(elf) if elf is not None else None
        baud = args.baud or target.connection.baud or 115200
        try:
            stream = open_url(args.port, baudrate=baud, timeout=0.05)
        except DeviceError as e:
            raise DeviceError(f"{args.port}: {_reason(e, args.port)}") from e
        emit = _Printer(args.json)
        emit.note(f"monitor {target.name} on {args.port} at {baud} baud", elf=elf)
        splitter = StreamSplitter()
        end = time.monotonic() + args.duration if args.duration is not None else None
        try:
            if not args.no_hello:
                stream.write(encode_frame(Frame(MsgType.HELLO, 0, 1, b"")))
            last = time.monotonic()
            while end is None or time.monotonic() < end:
                try:
                    data = stream.read(512)
                except OSError as e:
                    raise DeviceError(f"{args.port}: link lost: {e}") from e
                now = time.monotonic()
                events = splitter.feed(data) if data else []
                if data:
                    last = now
                elif now - last > QUIET_FLUSH_S:
                    events = splitter.flush()
                    last = now
                for ev in events:
                    if isinstance(ev, FrameEvent):
                        emit.frame(ev.frame)
                    elif isinstance(ev, TextLine):
                        emit.text(ev.text, symbolizer.decode(ev.text) if symbolizer else [])
        except KeyboardInterrupt:
            pass
        finally:
            for ev in splitter.flush():
                if isinstance(ev, TextLine):
                    emit.text(ev.text, symbolizer.decode(ev.text) if symbolizer else [])
            stream.close()
        return 0


def _reason(e: DeviceError, port: str) -> str:
    text = str(e)
    prefix = f"cannot open {port}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


class _Printer:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _out(self, obj: dict[str, Any], line: str) -> None:
        print(json.dumps(obj) if self.as_json else line, flush=True)

    def note(self, text: str, elf: Path | None) -> None:
        suffix = f" (addresses from {elf})" if elf else " (no ELF: addresses not decoded)"
        if not self.as_json:
            print(f"-- {text}{suffix}; Ctrl-C to stop", file=sys.stderr, flush=True)

    def frame(self, frame: Frame) -> None:
        self._out(
            {
                "event": "frame",
                "type": frame.type,
                "seq": frame.seq,
                "response": frame.is_response,
                "payload": frame.payload.hex(),
                "text": describe_frame(frame),
            },
            describe_frame(frame),
        )

    def text(self, text: str, decoded: list[str]) -> None:
        self._out({"event": "log", "text": text, "decoded": decoded}, "\n".join([text, *decoded]))
