"""`doctor [TARGET]`: check the external tools; the exit code says whether TARGET can be built."""

from __future__ import annotations

import argparse
import json

from ..doctor import TOOLS, check, required_tools
from ..targets import load_target
from . import Command


class DoctorCommand(Command):
    name = "doctor"
    help = "check external tools; exit 0 when the target (or every tool) is available, 1 if not"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", nargs="?", help="check only what this target needs")
        parser.add_argument("--json", action="store_true")

    def run(self, args: argparse.Namespace) -> int:
        names = required_tools(load_target(args.target)) if args.target else list(TOOLS)
        results = check(names)
        missing = [c for c in results if not c.present]
        if args.json:
            print(
                json.dumps(
                    {
                        "target": args.target,
                        "ok": not missing,
                        "tools": [
                            {
                                "name": c.tool.name,
                                "present": c.present,
                                "purpose": c.tool.purpose,
                                "install": c.tool.install,
                            }
                            for c in results
                        ],
                    },
                    indent=2,
                )
            )
        else:
            for c in results:
                mark = "ok     " if c.present else "MISSING"
                print(f"{mark} {c.tool.name:<24} {c.tool.purpose}")
            for c in missing:
                print(f"  install {c.tool.name}: {c.tool.install}")
            scope = f"target {args.target}" if args.target else "all targets"
            print(
                f"{scope}: "
                + (
                    "everything needed is here"
                    if not missing
                    else f"{len(missing)} tool(s) missing"
                )
            )
        return 0 if not missing else 1
