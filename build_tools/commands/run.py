"""`run TARGET GUEST [EXPORT [ARGS...]]`: run one export of a guest on a target's runtime.
`run TARGET --deployment FILE [--input TOPIC=FILE] [--for S | --messages N]`: run a pipeline.

Guest output goes to stdout; the exit code is the guest's (proc_exit code, 1 on a trap, a
timeout or an error, with the cause on stderr). A deployment prints its state and telemetry as
JSON lines while it runs, then every instance's output and `{"deploymentStatus": ...}`; the exit
code is 0 when every instance ran without failing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge_runtime.host.models import parse_model_option

from ..devices.base import CallOutcome, open_device, supported_cli_options
from ..errors import BuildToolsError
from ..guests import build_guests
from ..targets import ENGINES, NN_BACKENDS, Target, load_target, with_runtime
from . import Command

BACKEND_CHOICES = sorted({b for offered in NN_BACKENDS.values() for b in offered})
ENGINE_CHOICES = sorted({e for offered in ENGINES.values() for e in offered})


def add_runtime_selection(parser: argparse.ArgumentParser) -> None:
    """--engine / --backend: another engine or NN backend than the target file's default."""
    parser.add_argument(
        "--engine", choices=ENGINE_CHOICES, help="wasm engine (default: the target's)"
    )
    parser.add_argument(
        "--backend", choices=BACKEND_CHOICES, help="NN backend (default: the target's)"
    )


def selected_target(args: argparse.Namespace) -> Target:
    """The target named on the command line with --engine / --backend applied (C runtimes are
    built per engine and backend; the Python host also takes the backend as a device option)."""
    return with_runtime(
        load_target(args.target), getattr(args, "engine", None), getattr(args, "backend", None)
    )


# Device options of the command line: option key (as in device_options) -> flag. Which keys a
# target takes is declared by its device adapter (`Dut.cli_options`); the others are refused.
# (--engine / --backend select the target's runtime instead: targets.with_runtime checks them.)
CLI_OPTIONS = {
    "models": "--model",
    "port": "--port",
    "env": "--env",
    "argv": "arguments after --",
}

I32_MIN, U32_MAX = -(1 << 31), (1 << 32) - 1  # arguments are i32, also accepted as u32


def add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="register a model for load_by_name (repeatable)",
    )
    add_runtime_selection(parser)
    parser.add_argument(
        "--port",
        help="serial transport: device path or pyserial URL (e.g. /dev/ttyUSB0, socket://HOST:PORT)",
    )


def device_options(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """The device options given on the command line; refuses those the target's adapter does
    not apply (one line naming the option and the target)."""
    options: dict[str, Any] = {}
    if args.model:
        options["models"] = [parse_model_option(m) for m in args.model]
    if getattr(args, "port", None):
        options["port"] = args.port
    if getattr(args, "env", None):
        options["env"] = [parse_env_option(e) for e in args.env]
    if getattr(args, "argv", None) is not None:
        options["argv"] = [utf8_text(a, "argument after --") for a in args.argv]
    supported = supported_cli_options(target)
    # The hint names only options this command has (`run` alone takes --env and `-- ARGS`).
    offered = [k for k in CLI_OPTIONS if k in ("models", "port") or hasattr(args, k)]
    for key in options:
        if key not in supported:
            takes = ", ".join(CLI_OPTIONS[k] for k in offered if k in supported)
            raise BuildToolsError(
                f"target {target.name}: {CLI_OPTIONS[key]} does not apply to its "
                f"{target.connection.transport!r} device",
                hint=f"this target takes {takes}"
                if takes
                else "this target takes none of " + ", ".join(CLI_OPTIONS[k] for k in offered),
            )
    return options


def utf8_text(value: str, what: str) -> str:
    """A guest's WASI string: valid UTF-8 (an undecodable byte of the command line is not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BuildToolsError(f"{what} {value!r}: not valid UTF-8") from e
    return value


def parse_env_option(value: str) -> tuple[str, str]:
    """`--env KEY=VALUE`: one WASI environment entry for the guest."""
    key, sep, val = utf8_text(value, "--env").partition("=")
    if not sep or not key or "\0" in value:
        raise BuildToolsError(f"--env {value!r}: expected KEY=VALUE (KEY not empty, no NUL)")
    return key, val


def read_input(path: Path, target: Target) -> bytes:
    """The --input file, read no further than the guest's memory could hold."""
    limit = min(target.limits.instance_memory_kib, target.guests.max_memory_kib) * 1024
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise BuildToolsError(f"--input {path}: {e.strerror or e}") from e
    if len(data) > limit:
        raise BuildToolsError(
            f"--input {path}: larger than the guest's memory limit ({limit // 1024} KiB on "
            f"{target.name})"
        )
    return data


def guest_bytes(target: Target, guest: str) -> tuple[str, bytes]:
    path = Path(guest)
    if path.suffix == ".wasm":
        if not path.is_file():
            raise BuildToolsError(f"no such module {guest}")
        return path.stem, path.read_bytes()
    built = build_guests(target)
    for g in built.guests:
        if g.name == guest:
            return g.name, (built.directory / g.path).read_bytes()
    known = ", ".join(g.name for g in built.guests)
    raise BuildToolsError(
        f"no guest {guest!r} for target {target.name}",
        hint=f"guests: {known}, or a path to a .wasm",
    )


def parse_arg(text: str, input_addr: int | None, input_len: int) -> int:
    if text in ("@input", "@input_len"):
        if input_addr is None:
            raise BuildToolsError(f"{text} needs --input FILE")
        return input_addr if text == "@input" else input_len
    try:
        value = int(text, 0)
    except ValueError as e:
        raise BuildToolsError(
            f"argument {text!r} is not an integer (or @input / @input_len)"
        ) from e
    if not I32_MIN <= value <= U32_MAX:
        raise BuildToolsError(
            f"argument {text!r} does not fit 32 bits (i32 {I32_MIN}..{-I32_MIN - 1}, "
            f"or u32 up to {U32_MAX})"
        )
    return value


class RunCommand(Command):
    name = "run"
    help = "run a guest export (or a command module's _start) on a target's runtime"
    takes_passthrough = True  # `-- ARGS`: the guest's WASI arguments (argv[1:])

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("guest", nargs="?", help="guest name, or a path to a .wasm file")
        parser.add_argument("export", nargs="?", help="reactor export to call (default: _start)")
        parser.add_argument(
            "args", nargs="*", help="i32 arguments; @input / @input_len with --input"
        )
        parser.add_argument(
            "--input",
            action="append",
            default=[],
            help="guest: FILE written into guest memory via alloc(); "
            "deployment: TOPIC=FILE published on TOPIC at start (repeatable)",
        )
        parser.add_argument(
            "--deployment", type=Path, metavar="FILE", help="run a deployment manifest (EVP shape)"
        )
        until = parser.add_mutually_exclusive_group()
        until.add_argument(
            "--for", dest="seconds", type=float, metavar="SECONDS", help="deployment: run time"
        )
        until.add_argument(
            "--messages",
            type=int,
            metavar="N",
            help="deployment: stop once the sink instances (those publishing nothing) received N",
        )
        parser.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="guest: a WASI environment variable (repeatable); arguments after -- are the "
            "guest's WASI arguments (argv[0] is the module name), as wasmtime's CLI passes them",
        )
        add_host_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        args.argv = args.passthrough  # the guest's WASI arguments after argv[0], or None
        if args.deployment is not None and (args.env or args.argv is not None):
            raise BuildToolsError("--env and arguments after -- apply to a guest, not --deployment")
        if args.deployment is not None:
            if args.guest is not None:
                raise BuildToolsError("give either a guest or --deployment, not both")
            return run_deployment(args)
        if args.guest is None:
            raise BuildToolsError("nothing to run: give a guest or --deployment FILE")
        if args.seconds is not None or args.messages is not None:
            raise BuildToolsError("--for and --messages apply to --deployment only")
        if len(args.input) > 1:
            raise BuildToolsError("a guest takes one --input FILE")
        target = selected_target(args)
        options = device_options(args, target)
        data = read_input(Path(args.input[0]), target) if args.input else None
        # Arguments are checked before anything is built or started (addresses come later).
        for a in args.args:
            parse_arg(a, 0, 0)
        name, wasm = guest_bytes(target, args.guest)
        with open_device(target, options) as dut:
            iid = dut.instantiate(name, wasm)
            input_addr, input_len = None, 0
            if data is not None:
                out = dut.call(iid, "alloc", [max(len(data), 1)])
                if out.status != "ok" or not out.value:
                    raise BuildToolsError(f"guest {name}: alloc({len(data)}) failed for --input")
                input_addr, input_len = out.value & U32_MAX, len(data)
                dut.write_memory(iid, input_addr, data)
            export = args.export or "_start"
            call_args = [parse_arg(a, input_addr, input_len) for a in args.args]
            outcome = dut.call(iid, export, call_args)
            sys.stdout.buffer.write(dut.logs(iid))
            sys.stdout.flush()
            return report(outcome, export)


def report(outcome: CallOutcome, export: str) -> int:
    if outcome.status == "ok":
        if export != "_start" and outcome.value is not None:
            print(outcome.value)
        return 0
    if outcome.status == "exit":
        return outcome.exit_code or 0
    message = outcome.message
    if not message.startswith(f"{export}: "):
        message = f"{export}: {message}"
    print(f"error: {message}", file=sys.stderr)
    return 1


def run_deployment(args: argparse.Namespace) -> int:
    """The deployment on the target's device: the Python host's pipeline executor, or a C
    runtime's over the device protocol (the device adapter decides, `Dut.deployment`); the
    printing and the exit code are the same for both (deployment/runner.py)."""
    from edge_runtime.deployment import load_deployment
    from edge_runtime.deployment.runner import print_event, run_to_end

    target = selected_target(args)
    options = device_options(args, target)
    deployment = load_deployment(args.deployment)  # a bad manifest: exit 2 before any device
    inputs = [_topic_input(text, target) for text in args.input]
    with open_device(target, options) as dut:
        run = dut.deployment(deployment, print_event)
        return run_to_end(run, deployment.instances, inputs, args.seconds, args.messages)


def _topic_input(text: str, target: Target) -> tuple[str, bytes]:
    topic, sep, file = text.partition("=")
    if not sep or not topic or not file:
        raise BuildToolsError(f"--input {text!r}: a deployment takes --input TOPIC=FILE")
    return topic, read_input(Path(file), target)
