"""`demo [guests|plates]`: the main job on the targets that need no hardware: build everything,
run the demo guests on each (the Python host, the native C runtime, the emulated MCU) and print
the results side by side; then the licence-plate reader on a held-out set of synthetic plates:
the EVP pipeline on the host (per NN backend) and the one-call reactor guest on every target,
with plate accuracy, agreement with the host's strings, frames per second and per-stage times.

Targets are chosen by how they are reached (`connection.transport`), never by name; every
target runs through the same device interface (`devices.base.Dut`).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass

from edge_runtime.errors import EdgeRuntimeError

from ..conformance.inputs import bmp_gray_int8, shared_file
from ..devices.base import Dut, open_device
from ..errors import BuildToolsError
from ..guests import BuildResult, build_evp_modules, build_guests
from ..paths import build_root
from ..plates import reader, synth
from ..targets import Target, load_targets
from . import Command

log = logging.getLogger(__name__)

# No-hardware targets are chosen by how they are reached, not by name.
NO_HARDWARE_TRANSPORTS = ("local", "process", "qemu")
DEMO_MODEL = "person_detect"
DEMO_IMAGES = ("person.bmp", "no_person.bmp")
PERSON_LABELS = ("no person", "person")  # person_detect's output classes, in order
PLATE_ACCURACY_MIN = 0.95  # on the host pipeline; below it the demo fails
PLATE_HOST_BACKENDS = ("litert", "tflm", "builtin")  # the EVP pipeline runs once per backend


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


def _plate_row(label: str, r: reader.Readout, plates: list[synth.Plate], host: list[str]) -> str:
    same = sum(a == b for a, b in zip(r.texts, host, strict=True))
    fps = len(plates) / r.seconds if r.seconds > 0 else 0.0
    stages = "  ".join(f"{v:7.2f}" for v in r.stage_means_ms().values())
    return (
        f"{label:<32}{100 * r.accuracy(plates):6.1f} %  {same:4d}/{len(plates):<4d}"
        f"{fps:8.1f}   {stages}"
    )


def run_plates(targets: list[Target], count: int) -> int:
    """The plate reader on `count` held-out plates; 1 when the host is below the threshold or
    a target's strings differ from the host's."""
    plates = synth.plate_set(count)
    host_target = next((t for t in targets if t.runtime.kind == "python-host"), None)
    print(
        f"\nlicence plates: {count} held-out synthetic plates (seed {synth.HELDOUT_SEED}), "
        f"model {reader.model_path().name} ({reader.model_path().stat().st_size} bytes)",
        flush=True,
    )
    header = f"{'':<32}{'accuracy':>8}  {'= host':>9}{'fps':>8}   " + "  ".join(
        f"{s:>7}" for s in reader.STAGES
    )
    rows = [header + "   (ms per plate, measured inside the guests)"]
    failed = False
    reference: list[str] | None = None
    if host_target is not None:
        modules = build_evp_modules(host_target)
        out = build_root() / "plates"
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps(reader.manifest(modules), indent=2) + "\n")
        (out / "frame.pgm").write_bytes(plates[0].pgm)
        rows.insert(0, f"(deployment: {out / 'manifest.json'}, a frame: {out / 'frame.pgm'})")
        for backend in PLATE_HOST_BACKENDS:
            r = reader.run_pipeline(plates, modules, backend)
            reference = reference or r.texts
            rows.append(_plate_row(f"host EVP pipeline {backend}", r, plates, reference))
            for err in r.errors[:3]:
                rows.append(f"    error: {err}")
            if r.accuracy(plates) < PLATE_ACCURACY_MIN or r.errors:
                failed = True
    for t in targets:
        guests = build_guests(t)
        wasm = {g.name: (guests.directory / g.path).read_bytes() for g in guests.guests}
        try:
            with open_device(t) as dut:
                r = reader.run_reactor(dut, wasm["plates"], plates)
        except EdgeRuntimeError as e:
            rows.append(f"{t.name + ' plates guest':<32}error: {e}")
            failed = True
            continue
        reference = reference or r.texts
        rows.append(
            _plate_row(f"{t.name} plates guest {t.runtime.nn_backend}", r, plates, reference)
        )
        for err in r.errors[:3]:
            rows.append(f"    error: {err}")
        if r.texts != reference or r.errors:
            failed = True
    print("\n".join(rows))
    return 1 if failed else 0


class DemoCommand(Command):
    name = "demo"
    help = "build and run the demo guests on the no-hardware targets (host, emulated MCU)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "part",
            nargs="?",
            choices=("all", "guests", "plates"),
            default="all",
            help="the demo guests, the licence-plate reader, or both (default)",
        )
        parser.add_argument(
            "--target", action="append", help="only these targets (default: all no-hardware ones)"
        )
        parser.add_argument(
            "--plates", type=int, default=100, metavar="N", help="held-out plates to read (100)"
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
        if args.plates < 1:
            raise BuildToolsError(f"--plates {args.plates}: give at least one plate")
        status = 0
        if args.part in ("all", "guests"):
            status = self.run_guests(targets)
        if args.part in ("all", "plates"):
            status = max(status, run_plates(targets, args.plates))
        return status

    def run_guests(self, targets: list[Target]) -> int:
        columns: dict[str, dict[str, str]] = {}
        failed = False
        for t in targets:
            guests = build_guests(t)
            print(f"{t.name}: built {len(guests.guests)} guests; running the demo ...", flush=True)
            try:
                columns[t.name] = run_demo_on(t, guests)
            except EdgeRuntimeError as e:
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
