"""`clean [TARGET]`: remove build outputs."""

from __future__ import annotations

import argparse
import shutil

from ..paths import build_root
from ..targets import load_target
from . import Command


class CleanCommand(Command):
    name = "clean"
    help = "remove build outputs (all, or one target's)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", nargs="?")

    def run(self, args: argparse.Namespace) -> int:
        root = build_root()
        path = root / load_target(args.target).name if args.target else root
        if path.exists():
            shutil.rmtree(path)
            print(f"removed {path}")
        else:
            print(f"nothing to remove ({path} does not exist)")
        return 0
