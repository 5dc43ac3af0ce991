"""`flash TARGET --port PORT`: write the built firmware and data partition to a board (esptool).

`--dry-run` prints what would be written where (offsets, files, sha256; `--json` for scripts)
and touches no port. The layout is build/<target>/firmware/flash.json, written by `build`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys

from ..errors import BuildToolsError
from ..firmware import esp_idf as firmware_esp
from ..targets import load_target
from ..toolchains import esptool
from . import Command


class FlashCommand(Command):
    name = "flash"
    help = "write firmware, partition table and the guests/models partition to a board"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
        parser.add_argument(
            "--baud", type=int, help="baud rate for writing (default: the ROM's 115200)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be written, touch no port"
        )
        parser.add_argument("--json", action="store_true", help="with --dry-run: as JSON")
        parser.add_argument(
            "--only",
            action="append",
            choices=firmware_esp.ROLES,
            metavar="ROLE",
            help="write only these images (repeatable; e.g. --only data: new guests and models "
            f"without reflashing the firmware); one of {', '.join(firmware_esp.ROLES)}",
        )
        parser.add_argument(
            "--no-stub",
            action="store_true",
            help="talk to the ROM loader directly instead of uploading esptool's flasher stub",
        )
        parser.add_argument(
            "--before",
            choices=esptool.CONNECT_MODES,
            default="default-reset",
            help="how to put the board in download mode (esptool's --before)",
        )
        parser.add_argument(
            "--after",
            choices=esptool.RESET_MODES,
            default="hard-reset",
            help="what to do after writing (esptool's --after)",
        )

    def run(self, args: argparse.Namespace) -> int:
        target = load_target(args.target)
        plan = firmware_esp.load_flash_plan(target)
        if args.only:
            plan = dataclasses.replace(
                plan, regions=tuple(r for r in plan.regions if r.role in args.only)
            )
        if args.dry_run:
            return _dry_run(target.name, plan, args.json)
        if not args.port:
            raise BuildToolsError(
                f"flash {target.name}: no port given", hint="pass --port /dev/ttyUSB0"
            )
        bar = esptool.TextProgress(sys.stderr)
        try:
            result = esptool.write(
                plan,
                args.port,
                args.baud,
                stub=not args.no_stub,
                before=args.before,
                after=args.after,
                progress=bar,
            )
        finally:
            bar.end_line()
        print(f"{target.name}: {result.chip} (MAC {result.mac}) on {args.port}")
        for offset, size, sha in result.regions:
            print(f"  0x{offset:08x}  {size:>8} B  sha256 {sha[:16]}  written, MD5 verified")
        return 0


def _dry_run(name: str, plan: esptool.FlashPlan, as_json: bool) -> int:
    rows = [
        {
            "role": r.role,
            "offset": r.offset,
            "file": str(r.path),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for r in plan.regions
        for data in (r.data(),)
    ]
    if as_json:
        print(
            json.dumps(
                {
                    "target": name,
                    "chip": plan.chip,
                    "flash_mode": plan.flash_mode,
                    "flash_size": plan.flash_size,
                    "regions": rows,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{name}: {plan.chip}, flash {plan.flash_size} {plan.flash_mode} (dry run: nothing written)"
    )
    for row in rows:
        print(
            f"  0x{row['offset']:08x}  {row['role']:<16} {row['size']:>8} B  "
            f"sha256 {row['sha256']}  {row['file']}"
        )
    return 0
