"""`doctor [TARGET]`: check the external tools; the exit code says whether TARGET can be built."""

from __future__ import annotations

import argparse
import json

from .. import third_party
from ..doctor import TOOLS, check, check_sources, required_sources, required_tools
from ..targets import load_target
from . import Command


class DoctorCommand(Command):
    name = "doctor"
    help = "check external tools; exit 0 when the target (or every tool) is available, 1 if not"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", nargs="?", help="check only what this target needs")
        parser.add_argument("--json", action="store_true")

    def run(self, args: argparse.Namespace) -> int:
        target = load_target(args.target) if args.target else None
        names = required_tools(target) if target else list(TOOLS)
        results = check(names)
        sources = check_sources(
            required_sources(target) if target else list(third_party.load_lock())
        )
        missing = [c for c in results if not c.present]
        missing_sources = [s for s in sources if not s.ok]
        if args.json:
            print(
                json.dumps(
                    {
                        "target": args.target,
                        "ok": not missing and not missing_sources,
                        "tools": [
                            {
                                "name": c.tool.name,
                                "present": c.present,
                                "purpose": c.tool.purpose,
                                "install": c.tool.install,
                            }
                            for c in results
                        ],
                        "third_party": [
                            {
                                "name": s.dependency.name,
                                "revision": s.dependency.revision,
                                "upstream": s.dependency.upstream,
                                "commit": s.dependency.commit,
                                "state": s.state,
                                "where": s.where,
                            }
                            for s in sources
                        ],
                    },
                    indent=2,
                )
            )
        else:
            for c in results:
                mark = "ok     " if c.present else "MISSING"
                print(f"{mark} {c.tool.name:<24} {c.tool.purpose}")
            for s in sources:
                mark = "ok     " if s.ok else "MISSING"
                print(f"{mark} {s.dependency.name:<24} {s.dependency.revision}: {s.where}")
            for c in missing:
                print(f"  install {c.tool.name}: {c.tool.install}")
            for s in missing_sources:
                print(
                    f"  get {s.dependency.name}: {s.dependency.archive} from "
                    f"{s.dependency.download} into a directory, then --third-party-dir DIR"
                )
            scope = f"target {args.target}" if args.target else "all targets"
            print(
                f"{scope}: "
                + (
                    "everything needed is here"
                    if not missing and not missing_sources
                    else f"{len(missing) + len(missing_sources)} tool(s)/source(s) missing"
                )
            )
        return 0 if not missing and not missing_sources else 1
