"""`monitor` and `test --port`: the same serial code a board uses, against the qemu-rv32
runtime on QEMU's TCP serial port; the frame/log splitter and the ELF address decoder."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.cli import run
from build_tools.devices.qemu_session import QemuSession
from build_tools.firmware import require_builder
from build_tools.monitor import FrameEvent, StreamSplitter, Symbolizer, TextLine, describe_frame
from build_tools.targets import load_target
from edge_runtime.protocol.framing import Frame, encode_frame
from edge_runtime.protocol.messages import MsgType

from ..qemu.conftest import no_leftover_qemu, require_tools  # noqa: F401  (autouse guard)


@pytest.fixture(scope="module")
def runtime_elf() -> Path:
    """The qemu-rv32 runtime firmware (built once into the build directory, incremental)."""
    require_tools()
    target = load_target("qemu-rv32")
    return require_builder(target).build(target).binary


@pytest.fixture
def qemu_url(runtime_elf: Path, tmp_path: Path) -> Iterator[str]:
    with QemuSession(runtime_elf, "qemu-rv32", tmp_path / "qemu.log", connect=False) as s:
        yield s.url


def test_monitor_decodes_the_hello_answer_of_a_live_runtime(
    qemu_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["monitor", "esp32c3", "--port", qemu_url, "--duration", "1.5", "--json"]) == 0
    events = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    frames = [e for e in events if e["event"] == "frame"]
    assert len(frames) == 1, events
    hello = frames[0]
    assert hello["type"] == MsgType.HELLO and hello["response"] and hello["seq"] == 1
    assert hello["text"].startswith("<< HELLO seq=1 OK: rt-c ")
    guests = load_target("qemu-rv32").guests
    # compiled in: the target's guests and its EVP modules (deployments on wasm2c firmware)
    modules = {*guests.modules, *guests.evp_modules}
    counts = f"{len(modules)} modules, {len(guests.models)} models"
    assert f" on qemu-rv32, engine wasm2c, nn builtin, {counts}" in hello["text"]


def test_test_port_runs_the_suite_through_the_serial_adapter(
    qemu_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # An esp32c3 target reached over --port: the `serial` transport a board uses, here served
    # by the emulated runtime (a subset of the suite: the whole suite runs in tests/qemu).
    assert run(["test", "esp32c3", "--port", qemu_url, "-k", r"^engine\.|^nn\.load\."]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    m = re.fullmatch(r"esp32c3 \(wasm2c, builtin\): (\d+) passed, 0 failed, \d+ skipped", last)
    assert m is not None and int(m.group(1)) >= 10, last


@pytest.mark.parametrize(
    "argv",
    [
        ["monitor", "esp32", "--port"],
        ["test", "esp32", "--port"],
    ],
    ids=["monitor", "test"],
)
def test_no_board_ends_with_one_line_naming_the_port(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = str(tmp_path / "ttyUSB7")
    assert run([*argv, port]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and port in err[0] and "No such file or directory" in err[0], err


def test_splitter_separates_frames_from_logs_in_wire_order() -> None:
    payload = b"\x00\x00" + b"line\nbreaks\n\x00inside"  # a frame body with newlines and zeros
    frame = Frame(MsgType.LOGS, 1, 7, payload)
    wire = (
        b"I (312) boot: ESP-IDF v5.5\r\n"
        + encode_frame(frame)
        + b"\x1b[0;32mI (320) rt: ready\x1b[0m\n"
        + encode_frame(Frame(MsgType.HELLO, 0, 8, b""))
        + b"partial"
    )
    splitter = StreamSplitter()
    events = []
    for i in range(0, len(wire), 5):  # arrives in small pieces
        events += splitter.feed(wire[i : i + 5])
    events += splitter.flush()
    assert events == [
        TextLine("I (312) boot: ESP-IDF v5.5"),
        FrameEvent(frame),
        TextLine("I (320) rt: ready"),
        FrameEvent(Frame(MsgType.HELLO, 0, 8, b"")),
        TextLine("partial"),
    ]
    assert describe_frame(frame) == "<< LOGS seq=7 OK (19 B)"
    assert describe_frame(Frame(MsgType.HELLO, 0, 8, b"")) == ">> HELLO seq=8 (0 B)"


def test_a_corrupt_frame_is_shown_as_text_not_lost() -> None:
    wire = bytearray(encode_frame(Frame(MsgType.HELLO, 1, 3, b"\x00\x00")))
    wire[5] ^= 0x40
    events = StreamSplitter().feed(bytes(wire) + b"after\n")
    assert all(isinstance(e, TextLine) for e in events)
    assert events[-1] == TextLine("after")


def _nm(elf: Path, symbol: str) -> int:
    out = subprocess.run(
        ["riscv64-unknown-elf-nm", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise AssertionError(f"{symbol} not in {elf}")


def test_panic_addresses_name_the_function_nm_places_them_in(runtime_elf: Path) -> None:
    sym = Symbolizer(runtime_elf)
    serve = _nm(runtime_elf, "rt_serve") + 8
    listing = _nm(runtime_elf, "rt_list_item") + 6
    # An ESP-IDF RISC-V panic register line, and the qemu-rv32 port's own trap line.
    mepc = f"MEPC    : 0x{serve:08x}  RA      : 0x{listing:08x}  SP      : 0x3fc9e1a0"
    trap = f"qemu-rv32: fatal trap mcause=0x00000003 mepc=0x{serve:08x} sp=0x80460000"
    expected = [
        f"  0x{serve:08x}: rt_serve+0x8",
        f"  0x{listing:08x}: rt_list_item+0x6",
    ]
    assert sym.decode(mepc) == expected  # the stack pointer is not code: not decoded
    assert sym.decode(trap) == expected[:1]
    assert sym.decode(f"I (5) rt: value 0x{serve:08x}") == []  # not panic output
