"""Command-line entry point: the one place that maps exceptions to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from edge_runtime.errors import EdgeRuntimeError

from . import __version__, third_party
from .commands import all_commands

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m build_tools",
        description="Build, flash, deploy and conformance-test wasm guests with wasi-nn.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more output; -v also shows tracebacks, -vv every command line",
    )
    parser.add_argument("--version", action="version", version=f"build_tools {__version__}")
    parser.add_argument(
        "--third-party-dir",
        metavar="DIR",
        help="directory holding the pinned upstream archives (build_tools/third_party.toml); "
        f"also ${third_party.ENV_DIR}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in all_commands():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Everything after the first `--` is handed to the command untouched (`run ... -- ARGS`: the
    # guest's WASI arguments, as wasmtime's CLI does), never parsed as options.
    words = list(sys.argv[1:] if argv is None else argv)
    passthrough = None
    if "--" in words:
        cut = words.index("--")
        words, passthrough = words[:cut], words[cut + 1 :]
    args = parser.parse_args(words)
    args.passthrough = passthrough
    if passthrough is not None and not getattr(args.handler, "takes_passthrough", False):
        parser.error(f"{args.command}: takes no arguments after --")
    level = (
        logging.WARNING
        if args.verbose == 0
        else logging.INFO
        if args.verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.third_party_dir:
        # Read by third_party.search_dirs() in this process and in the tools it starts.
        os.environ[third_party.ENV_DIR] = str(args.third_party_dir)
    try:
        return int(args.handler.run(args))
    except EdgeRuntimeError as e:
        if args.verbose:
            log.exception("failed")
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
