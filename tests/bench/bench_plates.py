"""Licence-plate reader benchmark (not collected by pytest: a measurement, not a timed test).

    .venv/bin/python tests/bench/bench_plates.py [-n PLATES] [--repeat R] [--json]

Side by side in one run, on the same held-out plates: the five-module EVP pipeline on the
Python host once per NN backend (litert, tflm, builtin), and the one-call `plates` guest on the
host. Reports plate accuracy, frames per second end to end (first frame injected to last string
out, wall clock; the best of R runs) and the mean time of each stage per plate as measured inside
the guests (so the difference between 1/fps and the sum of stages is the executor's share:
routing, copies, thread hand-offs).
"""

from __future__ import annotations

import argparse
import json
import sys

from build_tools.devices.base import open_device
from build_tools.guests import build_evp_modules, build_guests
from build_tools.plates import reader, synth
from build_tools.targets import load_target

BACKENDS = ("litert", "tflm", "builtin")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100, help="plates (100)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    plates = synth.plate_set(args.n)
    host = load_target("host")
    modules = build_evp_modules(host)
    results: dict[str, reader.Readout] = {}
    for backend in BACKENDS:
        runs = [reader.run_pipeline(plates, modules, backend) for _ in range(args.repeat)]
        results[f"pipeline {backend}"] = min(runs, key=lambda r: r.seconds)
    built = build_guests(host)
    wasm = next((built.directory / g.path).read_bytes() for g in built.guests if g.name == "plates")
    with open_device(host) as dut:
        runs = [reader.run_reactor(dut, wasm, plates) for _ in range(args.repeat)]
    results["plates guest litert"] = min(runs, key=lambda r: r.seconds)
    rows = {
        name: {
            "accuracy": r.accuracy(plates),
            "fps": len(plates) / r.seconds,
            "stage_ms": r.stage_means_ms(),
            "errors": r.errors,
        }
        for name, r in results.items()
    }
    if args.json:
        print(json.dumps({"plates": args.n, "results": rows}, indent=2))
        return 0
    print(f"{args.n} held-out plates, best of {args.repeat}; stage times in ms per plate")
    print(f"{'':<24}{'accuracy':>9}{'fps':>9}   " + "".join(f"{s:>10}" for s in reader.STAGES))
    for name, row in rows.items():
        stages = "".join(f"{v:10.3f}" for v in row["stage_ms"].values())
        print(f"{name:<24}{100 * row['accuracy']:8.1f}%{row['fps']:9.1f}   {stages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
