"""`build TARGET`: build what the target runs (guest modules for now) and print the manifest."""

from __future__ import annotations

import argparse
import json

from ..guests import build_guests
from ..targets import load_target
from . import Command


class BuildCommand(Command):
    name = "build"
    help = "build guest modules (and later runtimes/firmware) for a target"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--json", action="store_true", help="print the build manifest as JSON")

    def run(self, args: argparse.Namespace) -> int:
        target = load_target(args.target)
        result = build_guests(target)
        if args.json:
            print(json.dumps(result.manifest(), indent=2))
            return 0
        rebuilt = ", ".join(result.compiled) or "nothing (up to date)"
        print(f"{target.name}: guests in {result.directory} (rebuilt: {rebuilt})")
        for g in result.guests:
            print(f"  {g.name:<10} {g.size:>7} B  sha256 {g.sha256[:16]}  imports {len(g.imports)}")
        return 0
