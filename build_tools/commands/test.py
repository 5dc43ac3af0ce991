"""`test TARGET`: the shared conformance suite on a target's device; `--matrix` merges results."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ..conformance.report import junit_xml, kib, load_results, markdown_matrix
from ..conformance.suite import run_suite
from ..errors import BuildToolsError
from . import Command
from .run import add_host_options, device_options, selected_target


class TestCommand(Command):
    name = "test"
    help = "run the conformance suite on a target (or render a matrix from JSON results)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", nargs="?")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML")
        parser.add_argument("-k", dest="pattern", help="only cases whose id matches this regex")
        parser.add_argument(
            "--matrix",
            nargs="+",
            type=Path,
            metavar="RESULT_JSON",
            help="print a case x target markdown matrix from saved --json results",
        )
        add_host_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        if args.matrix:
            print(markdown_matrix(load_results(args.matrix)), end="")
            return 0
        if not args.target:
            print("usage: test TARGET [--json] [--junit FILE] [-k PATTERN]")
            return 2
        if args.pattern is not None:
            try:
                re.compile(args.pattern)
            except re.error as e:
                raise BuildToolsError(f"-k {args.pattern!r}: not a regular expression: {e}") from e
        target = selected_target(args)
        result = run_suite(target, args.pattern, device_options(args, target))
        if args.junit:
            args.junit.write_text(junit_xml(result), encoding="utf-8")
        if args.json:
            print(json.dumps(result.as_json(), indent=2))
        else:
            ram = any(c.ram_high_water is not None for c in result.cases)
            for c in result.cases:
                line = f"{c.status:<8} "
                if ram:  # the RAM high-water column only when the device reports it
                    line += f"{kib(c.ram_high_water) if c.ram_high_water is not None else '':>10}  "
                line += c.id
                print(line + (f"  ({c.detail})" if c.detail else ""))
            print(
                f"{result.target} ({result.engine}, {result.backend}): "
                f"{result.count('passed')} passed, {result.count('failed')} failed, "
                f"{result.count('skipped')} skipped"
            )
        return 1 if result.count("failed") else 0
