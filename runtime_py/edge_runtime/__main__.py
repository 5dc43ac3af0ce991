"""The runtime's own command line, for a device without the tools (the one place in this package
that maps the error family to exit codes):

    python -m edge_runtime run APP.wasm [EXPORT [INT...]] [--backend B] [--models-dir D]
                           [--model NAME=PATH] [--env K=V] [--arg A]...
    python -m edge_runtime agent --config agent.toml        (edge_runtime.fleet.agent)
    python -m edge_runtime backends                          (which NN backends work here)

`run` calls a reactor export with integer arguments (its value is printed) or a command
module's `_start` (with `--arg` as its WASI arguments); the guest's output goes to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import EdgeRuntimeError

log = logging.getLogger("edge_runtime")


def _run(args: argparse.Namespace) -> int:
    from .host.models import ModelRegistry, parse_model_option
    from .host.runtime import GuestError, HostLimits, HostRuntime

    registry = ModelRegistry.from_directory(args.models_dir) if args.models_dir else ModelRegistry()
    for option in args.model:
        name, path = parse_model_option(option)
        registry.add(name, path)
    limits = HostLimits(
        memory_bytes=args.memory_kib * 1024,
        timeout_ms=args.timeout_ms,
        max_graphs=16,
        max_contexts=16,
    )
    rt = HostRuntime(registry, args.backend, limits, explicit=True)
    rt.guest_args = tuple(a.encode() for a in args.arg)
    rt.guest_environ = tuple(e.encode() for e in args.env)
    try:
        wasm = args.module.read_bytes()
    except OSError as e:
        raise EdgeRuntimeError(f"{args.module}: {e.strerror}") from e
    try:
        inst = rt.instantiate(args.module.stem, wasm)
        failed = inst.ensure_initialized()
        if failed is not None:
            raise EdgeRuntimeError(f"{args.module.stem}: _initialize failed: {failed.message}")
        export = args.export or "_start"
        result = inst.call(export, [int(a, 0) for a in args.ints])
        sys.stdout.buffer.write(inst.logs())
        sys.stdout.flush()
    except GuestError as e:
        raise EdgeRuntimeError(str(e), hint=e.hint) from e
    finally:
        rt.close()
    if result.status == "ok":
        if export != "_start" and result.value is not None:
            print(result.value)
        return 0
    if result.status == "exit":
        return result.exit_code or 0
    print(f"error: {export}: {result.message}", file=sys.stderr)
    return 1


def _backends(args: argparse.Namespace) -> int:
    from .host.backends import availability

    for name, reason in availability().items():
        print(f"{name:<16} {'ok' if reason is None else reason}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge_runtime")
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a guest on the wasmtime host")
    run.add_argument("module", type=Path)
    run.add_argument("export", nargs="?", help="reactor export to call (default: _start)")
    run.add_argument("ints", nargs="*", help="integer arguments of the export")
    run.add_argument("--backend", default="litert", help="NN backend (default: litert)")
    run.add_argument("--models-dir", type=Path, help="every NAME.tflite in it, by name")
    run.add_argument("--model", action="append", default=[], help="NAME=PATH (repeatable)")
    run.add_argument("--arg", action="append", default=[], help="a WASI argument (repeatable)")
    run.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeatable)")
    run.add_argument("--memory-kib", type=int, default=65536)
    run.add_argument("--timeout-ms", type=int, default=10000)
    run.set_defaults(handler=_run)
    backends = sub.add_parser("backends", help="which NN backends work in this installation")
    backends.set_defaults(handler=_backends)
    sub.add_parser("agent", help="the fleet agent (python -m edge_runtime agent --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["agent"]:
            from .fleet import agent

            return agent.main(argv[1:])
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return int(args.handler(args))
    except EdgeRuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
