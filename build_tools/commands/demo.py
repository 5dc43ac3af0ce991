"""`demo`: the main job on the targets that need no hardware: build everything, run the demo
guests on each (the Python host, the emulated MCU, ...) and print the results side by side.

Targets are chosen by how they are reached (`connection.transport`), never by name; every
target runs through the same device interface (`devices.base.Dut`).
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass

from ..conformance.inputs import bmp_gray_int8, shared_file
from ..devices.base import Dut, open_device
from ..errors import BuildToolsError
from ..guests import BuildResult, build_guests
from ..targets import Target, load_targets
from . import Command

log = logging.getLogger(__name__)

# No-hardware targets are chosen by how they are reached, not by name.
NO_HARDWARE_TRANSPORTS = ("local", "qemu")
DEMO_MODEL = "person_detect"
DEMO_IMAGES = ("person.bmp", "no_person.bmp")
PERSON_LABELS = ("no person", "person")  # person_detect's output classes, in order


@dataclass
class Row:
    what: str
    results: dict[str, str]


def _alloc_write(dut: Dut, iid: int, data: bytes) -> int:
    out = dut.call(iid, "alloc", [max(len(data), 1)])
    if out.status != "ok" or not out.value:
        raise BuildToolsError(f"alloc({len(data)}) failed: {out.message}")
    dut.write_memory(iid, out.value, data)
    return out.value


def _fmt(status: str, value: int | None, message: str, ms: float) -> str:
    if status != "ok":
        return f"{status}: {message}"[:40]
    return f"{value}  ({ms:.1f} ms)"


def run_demo_on(target: Target, guests: BuildResult) -> dict[str, str]:
    """Results of the demo calls on one target: row label -> cell text."""
    cells: dict[str, str] = {}
    wasm = {g.name: (guests.directory / g.path).read_bytes() for g in guests.guests}
    with open_device(target) as dut:
        hello = dut.instantiate("hello", wasm["hello"])
        for label, export, args in (
            ("hello add(2, 40)", "add", [2, 40]),
            ("hello fib(30)", "fib", [30]),
            ("hello say_hello(7)", "say_hello", [7]),
        ):
            t0 = time.perf_counter()
            out = dut.call(hello, export, args)
            ms = (time.perf_counter() - t0) * 1000
            cells[label] = _fmt(out.status, out.value, out.message, ms)
        text = dut.logs(hello).decode("utf-8", "replace").strip()
        cells["  guest stdout"] = repr(text)
        dut.drop(hello)
        if DEMO_MODEL not in dut.info().models and "classify" in wasm:
            cells[f"classify {DEMO_MODEL}"] = "model not available on this target"
            return cells
        cls = dut.instantiate("classify", wasm["classify"])
        name = _alloc_write(dut, cls, DEMO_MODEL.encode())
        dims_bytes = b"".join(d.to_bytes(4, "little") for d in (1, 96, 96, 1))
        dims = _alloc_write(dut, cls, dims_bytes)
        for image in DEMO_IMAGES:
            pixels = bmp_gray_int8(shared_file("images", image)).astype("int8").tobytes()
            inp = _alloc_write(dut, cls, pixels)
            t0 = time.perf_counter()
            out = dut.call(cls, "classify", [name, len(DEMO_MODEL), dims, 4, inp, len(pixels)])
            ms = (time.perf_counter() - t0) * 1000
            label = f"classify {DEMO_MODEL} {image}"
            if out.status == "ok" and out.value is not None and out.value >= 0:
                ptr = dut.call(cls, "output_ptr", []).value or 0
                scores = [b - 256 if b > 127 else b for b in dut.read_memory(cls, ptr, 2)]
                top = PERSON_LABELS[out.value] if out.value < 2 else str(out.value)
                cells[label] = f"{top} {scores} ({ms:.0f} ms)"
            else:
                cells[label] = _fmt(out.status, out.value, out.message, ms)
        dut.drop(cls)
    return cells


class DemoCommand(Command):
    name = "demo"
    help = "build and run the demo guests on the no-hardware targets (host, emulated MCU)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--target", action="append", help="only these targets (default: all no-hardware ones)"
        )

    def run(self, args: argparse.Namespace) -> int:
        targets = [
            t
            for t in load_targets().values()
            if t.connection.transport in NO_HARDWARE_TRANSPORTS
            and (not args.target or t.name in args.target)
        ]
        if not targets:
            raise BuildToolsError("no no-hardware target selected")
        columns: dict[str, dict[str, str]] = {}
        failed = False
        for t in targets:
            guests = build_guests(t)
            print(f"{t.name}: built {len(guests.guests)} guests; running the demo ...", flush=True)
            try:
                columns[t.name] = run_demo_on(t, guests)
            except BuildToolsError as e:
                failed = True
                columns[t.name] = {"error": str(e)}
        labels: list[str] = []
        for cells in columns.values():
            labels += [k for k in cells if k not in labels]
        width = max(len(k) for k in labels) + 2
        colw = max(36, *(len(v) + 2 for c in columns.values() for v in c.values()))
        colw = min(colw, 48)
        print()
        print(f"{'':<{width}}" + "".join(f"{n:<{colw}}" for n in columns))
        for k in labels:
            row = "".join(f"{columns[n].get(k, '-')[: colw - 2]:<{colw}}" for n in columns)
            print(f"{k:<{width}}{row}")
        return 1 if failed else 0
