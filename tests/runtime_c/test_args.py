"""ARGS (docs/protocol.md): WASI arguments and environment on the C runtime, exactly as the
Python host gives them (`run TARGET GUEST --env KEY=VALUE -- ARGS`), on posix (both engines)
and qemu-rv32; bad input refused with one clear line while the device keeps serving.

The expected lines are written out here from the inputs, not taken from either runtime."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.cli import run as cli_run
from build_tools.guests import build_command_modules
from build_tools.targets import load_target
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import ARGS_MAX, MsgType, Status, pack_args

from .conftest import require_tools

ARGV = ["one", "two words", "ünïcode ✓", ""]
ENV = ["LABEL=demo run", "EMPTY=", "EQ=a=b"]


def expected(argv0: str) -> str:
    lines = [f"argc={len(ARGV) + 1}", f"argv[0]={argv0}"]
    lines += [f"argv[{i + 1}]={a}" for i, a in enumerate(ARGV)]
    lines += [f"env {e}" for e in ENV]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def print_args() -> Path:
    require_tools()
    return build_command_modules(load_target("host"))["print_args"]


def run_guest(capsys: pytest.CaptureFixture[str], target: list[str], guest: list[str]) -> str:
    env = [x for e in ENV for x in ("--env", e)]
    code = cli_run(["run", target[0], *guest, *target[1:], *env, "--", *ARGV])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


# The command guest where the engine loads code at run time; the reactor guest `hello`
# (print_args export, built into wasm2c firmware) on the default engines.
COMMAND_TARGETS = [["host"], ["posix", "--engine", "wamr"]]
REACTOR_TARGETS = [["host"], ["posix"]]


@pytest.mark.parametrize("target", COMMAND_TARGETS, ids=lambda t: "-".join(t))
def test_command_guest_sees_its_args_and_env(
    target: list[str], print_args: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_guest(capsys, target, [str(print_args)]) == expected("print_args")


@pytest.mark.parametrize("target", REACTOR_TARGETS, ids=lambda t: "-".join(t))
def test_reactor_export_sees_the_same(
    target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # `run` prints a reactor export's result after the guest's output: argc
    out = run_guest(capsys, target, ["hello", "print_args"])
    assert out == expected("hello") + f"{len(ARGV) + 1}\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "kind"),
    [(["qemu-rv32"], "reactor"), (["qemu-rv32", "--engine", "wamr"], "command")],
    ids=["qemu-rv32-wasm2c", "qemu-rv32-wamr"],
)
def test_qemu_rv32_gives_the_same(
    target: list[str], kind: str, print_args: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "command":
        assert run_guest(capsys, target, [str(print_args)]) == expected("print_args")
    else:
        out = run_guest(capsys, target, ["hello", "print_args"])
        assert out == expected("hello") + f"{len(ARGV) + 1}\n"


def test_no_args_given_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_run(["run", "posix", "hello", "print_args"]) == 0
    assert capsys.readouterr().out == "argc=0\n0\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--", *["x"] * ARGS_MAX],
            "error: posix: arguments: 33 arguments and 0 environment variables: at most 32 "
            "together",
        ),
        (["--", "y" * 256], "error: posix: arguments: argv[1] is 256 bytes long: at most 255"),
        (["--", "bad\udcff"], "error: argument after -- 'bad\\udcff': not valid UTF-8"),
        (["--env", "NOEQUALS"], "error: --env 'NOEQUALS': expected KEY=VALUE"),
    ],
    ids=["too-many", "too-long", "not-utf8", "no-equals"],
)
def test_bad_arguments_are_one_line(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_run(["run", "posix", "hello", "print_args", *extra]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(message), err


def _raw_args(instance: int, argv: list[bytes], environ: list[bytes]) -> bytes:
    out = struct.pack("<IB", instance, len(argv)) + b"".join(bytes([len(a)]) + a for a in argv)
    return out + bytes([len(environ)]) + b"".join(bytes([len(e)]) + e for e in environ)


@pytest.fixture
def hello_instance(device: DeviceClient) -> Iterator[tuple[DeviceClient, int]]:
    inst = device.instantiate("hello")
    yield device, inst
    device.drop(inst)


@pytest.mark.parametrize(
    ("argv", "environ", "status", "message"),
    [
        ([b"ok", b"\xff"], [], Status.BAD_REQUEST, "argv[1] is not UTF-8 without NUL bytes"),
        ([b"a\x00b"], [], Status.BAD_REQUEST, "argv[0] is not UTF-8 without NUL bytes"),
        ([b"\xed\xa0\x80"], [], Status.BAD_REQUEST, "argv[0] is not UTF-8 without NUL bytes"),
        ([], [b"K=V", b"NOEQ"], Status.BAD_REQUEST, "environ[1] has no '=' after a key"),
        ([], [b"=V"], Status.BAD_REQUEST, "environ[0] has no '=' after a key"),
        ([b"a"] * 20, [b"K=V"] * 13, Status.BAD_REQUEST, "too many strings"),
    ],
    ids=["bad-utf8", "nul", "surrogate", "no-equals", "empty-key", "too-many"],
)
def test_device_refuses_bad_args_and_keeps_serving(
    hello_instance: tuple[DeviceClient, int],
    argv: list[bytes],
    environ: list[bytes],
    status: Status,
    message: str,
) -> None:
    device, inst = hello_instance
    got, body = device.request(MsgType.ARGS, _raw_args(inst, argv, environ))
    assert (got, body.decode()[: len(message)]) == (status, message)
    # nothing was stored, and the device still serves
    assert device.call(inst, "print_args").result == 0
    assert device.logs(inst) == b"argc=0\n"


def test_args_are_set_before_the_first_call_only(device: DeviceClient) -> None:
    assert device.info is not None and device.info.takes_args
    inst = device.instantiate("hello")
    device.set_args(inst, ["first"], [])
    device.set_args(inst, ["hello", "x"], ["A=1"])  # replaces
    assert device.call(inst, "print_args").result == 2
    assert device.logs(inst) == b"argc=2\nargv[0]=hello\nargv[1]=x\nenv A=1\n"
    got, body = device.request(MsgType.ARGS, pack_args(inst, ["late"], []))
    assert got is Status.BAD_STATE and b"already run a call" in body
    got, body = device.request(MsgType.ARGS, pack_args(inst + 1000, [], []))
    assert (got, body) == (Status.NOT_FOUND, f"no instance {inst + 1000}".encode())
    device.drop(inst)
