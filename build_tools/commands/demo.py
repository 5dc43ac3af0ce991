"""`demo`: the main job on the targets that need no hardware: build everything and show it."""

from __future__ import annotations

import argparse

from ..guests import build_guests
from ..targets import load_targets
from . import Command

# No-hardware targets are chosen by how they are reached, not by name.
NO_HARDWARE_TRANSPORTS = ("local", "qemu")


class DemoCommand(Command):
    name = "demo"
    help = "build all guests for the no-hardware targets (local host, emulated MCU) and show them"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        targets = [
            t for t in load_targets().values() if t.connection.transport in NO_HARDWARE_TRANSPORTS
        ]
        results = [build_guests(t) for t in targets]
        names = [g.name for g in results[0].guests]
        header = f"{'guest':<10} {'bytes':>7}  " + "  ".join(f"{r.target:<18}" for r in results)
        print(header)
        for i, name in enumerate(names):
            row = "  ".join(f"sha256 {r.guests[i].sha256[:11]}" for r in results)
            print(f"{name:<10} {results[0].guests[i].size:>7}  {row}")
        for r in results:
            print(f"manifest: {r.directory / 'manifest.json'}")
        return 0
