"""Bad command-line input ends in one line naming the thing and the reason, exit code 2, before
anything is built or started; no traceback, no silently wrong value, no ignored option."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from build_tools import cli
from build_tools.devices.base import supported_cli_options
from build_tools.devices.posix import PosixDut
from build_tools.targets import load_target, load_targets_each
from edge_runtime.errors import DeviceError

REPO = Path(__file__).resolve().parents[2]
INVALID = Path(__file__).parent / "invalid_targets"


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert cli.run(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "arg", ["99999999999", "4294967296", "-2147483649", str(-(1 << 40))], ids=str
)
def test_out_of_range_argument_is_refused(capsys: pytest.CaptureFixture[str], arg: str) -> None:
    err = _error(capsys, ["run", "host", "hello", "add", arg, "1"])
    assert err == (
        f"error: argument '{arg}' does not fit 32 bits "
        "(i32 -2147483648..2147483647, or u32 up to 4294967295)\n"
    )


def test_input_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.bin"
    err = _error(capsys, ["run", "host", "hello", "checksum", "--input", str(missing)])
    assert err == f"error: --input {missing}: No such file or directory\n"


def test_input_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = _error(capsys, ["run", "host", "hello", "checksum", "--input", str(tmp_path)])
    assert err == f"error: --input {tmp_path}: Is a directory\n"


def test_input_is_bounded_by_the_guest_memory(capsys: pytest.CaptureFixture[str]) -> None:
    # /dev/zero never ends: the read stops one byte past the guest's limit (1 MiB on host).
    err = _error(capsys, ["run", "host", "hello", "checksum", "--input", "/dev/zero"])
    assert (
        err == "error: --input /dev/zero: larger than the guest's memory limit (1024 KiB on host)\n"
    )


def test_bad_test_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["test", "host", "-k", "("])
    assert err == (
        "error: -k '(': not a regular expression: missing ), unterminated subpattern at position 0\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["run", "host", "hello", "add", "1", "2", "--port", "/dev/ttyUSB0"],
            "error: target host: --port does not apply to its 'local' device\n"
            "hint: this target takes --model, --env, arguments after --\n",
        ),
        (
            ["run", "posix", "hello", "add", "1", "2", "--model", "m=/dev/null"],
            "error: target posix: --model does not apply to its 'process' device\n"
            "hint: this target takes --env, arguments after --\n",
        ),
        (
            ["test", "qemu-rv32", "--port", "socket://127.0.0.1:1"],
            "error: target qemu-rv32: --port does not apply to its 'qemu' device\n"
            "hint: this target takes none of --model, --port\n",
        ),
    ],
    ids=["port-on-host", "model-on-posix", "port-on-qemu"],
)
def test_option_the_target_does_not_take(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _error(capsys, argv) == message


def test_options_are_declared_by_the_adapters() -> None:
    assert supported_cli_options(load_target("host")) == {"models", "argv", "env"}
    assert supported_cli_options(load_target("esp32")) == {"port", "argv", "env"}
    assert supported_cli_options(load_target("posix")) == {"argv", "env"}
    assert supported_cli_options(load_target("qemu-rv32")) == {"argv", "env"}


def test_more_arguments_than_the_protocol_carries() -> None:
    dut = PosixDut(load_target("posix"))  # refused before the device is opened
    with pytest.raises(DeviceError) as e:
        dut.call(1, "add", list(range(9)))
    assert str(e.value) == "posix: add: 9 arguments; the device protocol carries at most 8"


def test_one_non_utf8_target_file_hides_no_other(tmp_path: Path) -> None:
    shutil.copy(REPO / "targets" / "host.toml", tmp_path / "host.toml")
    shutil.copy(INVALID / "not_utf8" / "qemu-rv32.toml", tmp_path / "qemu-rv32.toml")
    targets, errors = load_targets_each(tmp_path)
    assert list(targets) == ["host"]
    assert [str(e) for e in errors] == ["qemu-rv32.toml: not UTF-8: byte 0xff at offset 152"]
