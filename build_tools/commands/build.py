"""`build TARGET`: build what the target runs (guest modules for now) and print the manifest."""

from __future__ import annotations

import argparse
import json

from .. import firmware_qemu, runtime_c
from ..guests import build_guests
from ..targets import load_target
from . import Command


class BuildCommand(Command):
    name = "build"
    help = "build guest modules (and later runtimes/firmware) for a target"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--json", action="store_true", help="print the build manifest as JSON")
        parser.add_argument(
            "--sanitize",
            action="store_true",
            help="C runtimes built with CMake: the AddressSanitizer + UBSan variant",
        )

    def run(self, args: argparse.Namespace) -> int:
        target = load_target(args.target)
        result = build_guests(target)
        runtime = None
        firmware = None
        if runtime_c.builds_with_cmake(target):
            runtime = runtime_c.build_runtime(target, result, sanitize=args.sanitize)
        elif firmware_qemu.builds_firmware(target):
            firmware = firmware_qemu.build_runtime_firmware(target, result)
        if args.json:
            print(json.dumps(result.manifest(), indent=2))
            return 0
        rebuilt = ", ".join(result.compiled) or "nothing (up to date)"
        print(f"{target.name}: guests in {result.directory} (rebuilt: {rebuilt})")
        for g in result.guests:
            print(f"  {g.name:<10} {g.size:>7} B  sha256 {g.sha256[:16]}  imports {len(g.imports)}")
        if runtime is not None:
            variant = " (ASan+UBSan)" if runtime.sanitize else ""
            print(f"{target.name}: runtime{variant} {runtime.binary}")
            print(f"  models built in: {', '.join(runtime.sources.models) or 'none'}")
            for name, reason in runtime.sources.skipped_models.items():
                print(f"  model {name} skipped: {reason}")
        if firmware is not None:
            print(firmware_qemu.describe(target, firmware))
        return 0
