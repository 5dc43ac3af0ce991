"""`targets`: list the target boards, or show one."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from ..targets import Target, load_target, load_targets_each
from . import Command


def _as_json(t: Target) -> dict[str, object]:
    d = asdict(t)
    d["source"] = f"targets/{t.source.name}"
    return d


class TargetsCommand(Command):
    name = "targets"
    help = "list target boards (targets/*.toml), or show one"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", nargs="?", choices=["list", "show"], default="list")
        parser.add_argument("name", nargs="?", help="target to show")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(self, args: argparse.Namespace) -> int:
        if args.action == "show":
            if not args.name:
                print("usage: targets show NAME")
                return 2
            t = load_target(args.name)
            if args.json:
                print(json.dumps(_as_json(t), indent=2))
            else:
                self._print_one(t)
            return 0
        targets, errors = load_targets_each()
        status = self._list(targets, args.json)
        for e in errors:  # the valid targets are listed; each invalid file gets one line
            print(f"error: {e}", file=sys.stderr)
        return 2 if errors else status

    @staticmethod
    def _list(targets: dict[str, Target], as_json: bool) -> int:
        if as_json:
            print(json.dumps([_as_json(t) for t in targets.values()], indent=2))
            return 0
        print(
            f"{'target':<11} {'kind':<6} {'arch':<8} {'engine':<9} {'nn':<9} {'reached by':<10} description"
        )
        for t in targets.values():
            print(
                f"{t.name:<11} {t.kind:<6} {t.arch:<8} {t.runtime.engine:<9} "
                f"{t.runtime.nn_backend:<9} {t.connection.transport:<10} {t.description}"
            )
        return 0

    @staticmethod
    def _print_one(t: Target) -> None:
        print(f"{t.name}: {t.description}")
        print(f"  kind {t.kind}, arch {t.arch}, cpu {t.cpu}")
        print(
            f"  memory: RAM {t.memory.ram_kib} KiB, PSRAM {t.memory.psram_kib} KiB, flash {t.memory.flash_kib} KiB"
        )
        r = t.runtime
        print(
            f"  runtime {r.kind}: engine {r.engine}, NN backend {r.nn_backend}, platform {r.platform}"
        )
        print(
            f"  build: {t.build.system}"
            + (f" (env {t.build.env}, board {t.build.board})" if t.build.env else "")
        )
        print(
            f"  reached by {t.connection.transport}"
            + (f" at {t.connection.baud} baud" if t.connection.baud else "")
        )
        lim = t.limits
        print(
            f"  limits: {lim.instance_memory_kib} KiB/instance, {lim.call_timeout_ms} ms/call, "
            f"{lim.max_graphs} graphs, {lim.max_contexts} contexts, {lim.max_instances} instances"
        )
        print(f"  guests: {', '.join(t.guests.modules)}; models: {', '.join(t.guests.models)}")
        if t.flash:
            for p in t.flash.partitions:
                print(
                    f"  partition {p.name:<9} {p.type}/{p.subtype:<8} 0x{p.offset:06x} {p.size // 1024} KiB"
                )
