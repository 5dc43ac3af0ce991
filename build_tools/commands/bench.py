"""`bench TARGET`: inference cost through the guest vs the backend called directly (host only)."""

from __future__ import annotations

import argparse
import json

from build_tools.host_bench import BENCH_MODELS, run_bench

from ..conformance.suite import target_guests
from ..devices.host import runtime_for
from ..errors import BuildToolsError
from . import Command
from .run import add_host_options, device_options, selected_target


class BenchCommand(Command):
    name = "bench"
    help = "benchmark guest -> wasi-nn -> backend against direct backend calls (Python host)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("-n", "--iterations", type=int, default=200)
        parser.add_argument("--models", nargs="+", default=list(BENCH_MODELS))
        add_host_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        target = selected_target(args)
        if target.runtime.kind != "python-host" or target.connection.transport != "local":
            raise BuildToolsError(
                f"bench measures the in-process Python host; target {target.name} runs "
                f"{target.runtime.kind} over {target.connection.transport}"
            )
        runtime = runtime_for(target, device_options(args, target))
        try:
            result = run_bench(runtime, target_guests(target), tuple(args.models), args.iterations)
        finally:
            runtime.close()
        result["target"] = target.name
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        print(
            f"{'model':<24} {'backend':<8} {'guest us':>10} {'direct us':>10} {'ratio':>7} {'overhead us':>12}"
        )
        for m in result["models"]:  # type: ignore[attr-defined]
            print(
                f"{m['model']:<24} {m['backend']:<8} {m['guest_us']:>10} {m['direct_us']:>10} "
                f"{m['ratio']:>7} {m['overhead_us']:>12}"
            )
        for mod in result["modules"]:  # type: ignore[attr-defined]
            print(
                f"module {mod['module']:<10} compile {mod['compile_ms']} ms, instantiate {mod['instantiate_ms']} ms"
            )
        return 0
