"""Benchmark of the built-in int8 backend against TFLM (a measurement, not a test).

    .venv/bin/python tests/bench/bench_builtin.py [--json] [-n ITERATIONS] [--models a,b]

For each MLPerf Tiny model (+ person_detect): the interpreters get the same input and are run
interleaved (rotating which goes first) in one process; the time ratio is
median(builtin) / median(tflm) (TFLM's reference kernels). Also against LiteRT's builtin
(optimized, single-threaded, no delegate) kernels as the host backend runs them: median(builtin)
/ median(litert), reported without a goal. The arena ratio compares nnb_arena_required with the smallest
`arena_size` with which tflite_micro still allocates and invokes the model (bisection to 16
bytes). Goals: time ratio <= 0.5, arena ratio <= 1.0. Also reports `size` of the library
(host shared object, and the bare-metal rv32 objects when that compiler is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from build_tools import nnb
from build_tools.paths import shared_root
from edge_runtime.host.backends import builtin
from edge_runtime.host.backends.base import BackendError
from edge_runtime.host.backends.litert import LiteRTBackend

MODELS = {
    "VWW": "vww_96_int8",
    "KWS": "kws_ref_model",
    "IC": "pretrainedResnet_quant",
    "AD": "ad01_int8",
    "PD": "person_detect",
}
TIME_GOAL = 0.5
ARENA_GOAL = 1.0


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """TFLM prints allocation failures on fd 2 while we probe arena sizes."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def tflm_runs(runtime: Any, path: Path, arena: int, x: np.ndarray) -> bool:
    try:
        it = runtime.Interpreter.from_file(str(path), arena_size=arena)
        it.set_input(x, 0)
        it.invoke()
    except (RuntimeError, ValueError):
        return False
    return True


def tflm_min_arena(runtime: Any, path: Path, x: np.ndarray) -> int:
    lo, hi = 0, 1 << 16
    with quiet_stderr():
        while not tflm_runs(runtime, path, hi, x):
            lo, hi = hi, hi * 2
            if hi > 1 << 26:
                raise RuntimeError(f"{path.name}: TFLM does not run even with {hi} bytes")
        while hi - lo > 16:
            mid = (lo + hi) // 2
            if tflm_runs(runtime, path, mid, x):
                hi = mid
            else:
                lo = mid
    return hi


def bench_model(runtime: Any, backend: builtin.BuiltinBackend, key: str, iterations: int) -> dict:
    path = shared_root() / "models" / f"{MODELS[key]}.tflite"
    graph = backend.load(path.read_bytes())
    ctx = graph.new_context()
    try:  # LiteRT rejects some models TFLM runs (person_detect's quantized dimension)
        lite: Any = LiteRTBackend().load(path.read_bytes()).new_context()
    except BackendError:
        lite = None
    oracle = runtime.Interpreter.from_file(str(path))
    info = graph.inputs[0]
    x = np.random.default_rng(7).integers(-128, 128, size=info.shape, dtype=info.dtype)
    # Both interpreters reuse input buffers for activations (TFLM's planner does too): the
    # input is set again before every invoke, outside the timed region.
    for _ in range(3):  # warm up all three
        ctx.set_input(0, x)
        ctx.invoke()
        oracle.set_input(x, 0)
        oracle.invoke()
        if lite is not None:
            lite.set_input(0, x)
            lite.invoke()
    same = bool(np.array_equal(ctx.get_output(0), oracle.get_output(0)))
    tb: list[float] = []
    tt: list[float] = []
    tl: list[float] = []
    for i in range(iterations):
        for k in range(3):
            which = (i + k) % 3
            if which == 0:
                ctx.set_input(0, x)
                t0 = time.perf_counter()
                ctx.invoke()
                tb.append(time.perf_counter() - t0)
            elif which == 1:
                oracle.set_input(x, 0)
                t0 = time.perf_counter()
                oracle.invoke()
                tt.append(time.perf_counter() - t0)
            elif lite is not None:
                lite.set_input(0, x)
                t0 = time.perf_counter()
                lite.invoke()
                tl.append(time.perf_counter() - t0)
    mb, mt = statistics.median(tb), statistics.median(tt)
    ml = statistics.median(tl) if tl else None
    tflm_arena = tflm_min_arena(runtime, path, x)
    return {
        "model": MODELS[key],
        "bit_exact": same,
        "macs": graph.macs,
        "builtin_ms": round(mb * 1e3, 4),
        "tflm_ms": round(mt * 1e3, 4),
        "time_ratio": round(mb / mt, 4),
        "litert_ms": round(ml * 1e3, 4) if ml else None,
        "litert_ratio": round(mb / ml, 4) if ml else None,
        "builtin_arena": graph.arena_bytes,
        "builtin_activations": graph.activation_bytes,
        "builtin_persistent": graph.persistent_bytes,
        "tflm_min_arena": tflm_arena,
        "arena_ratio": round(graph.arena_bytes / tflm_arena, 4),
    }


def _opt(v: float | None, width: int) -> str:
    return f"{v:{width}.3f}" if v is not None else f"{'n/a':>{width}s}"


def size_of(files: list[Path], tool: str = "size") -> dict[str, int]:
    out = subprocess.run(
        [tool, "-t", *map(str, files)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    text, data, bss = (int(v) for v in out[-1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def library_sizes() -> dict[str, dict[str, int]]:
    sizes = {"host_libnnb.so": size_of([nnb.build_library()])}
    gcc = "riscv64-unknown-elf-gcc"
    if shutil.which(gcc) and shutil.which("riscv64-unknown-elf-size"):
        with tempfile.TemporaryDirectory() as tmp:
            objs = []
            for src in sorted(nnb.SOURCE_DIR.glob("nnb_*.c")):
                obj = Path(tmp) / (src.stem + ".o")
                subprocess.run(
                    [
                        gcc,
                        "-march=rv32imac",
                        "-mabi=ilp32",
                        "--specs=picolibc.specs",
                        "-std=c99",
                        "-O2",
                        "-c",
                        str(src),
                        "-o",
                        str(obj),
                    ],
                    check=True,
                )
                objs.append(obj)
            sizes["rv32imac_O2_objects"] = size_of(objs, "riscv64-unknown-elf-size")
            for obj in objs:
                sizes[f"rv32imac_O2 {obj.stem}.o"] = size_of([obj], "riscv64-unknown-elf-size")
    return sizes


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("-n", "--iterations", type=int, default=30)
    ap.add_argument("--models", default=",".join(MODELS), help="subset of " + ",".join(MODELS))
    args = ap.parse_args(argv)
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        print(
            "bench_builtin: tflite-micro is not installed here (x86_64 wheels only)",
            file=sys.stderr,
        )
        return 2
    backend = builtin.BuiltinBackend()
    rows = [
        bench_model(runtime, backend, k.strip(), args.iterations) for k in args.models.split(",")
    ]
    report = {
        "goals": {"time_ratio_max": TIME_GOAL, "arena_ratio_max": ARENA_GOAL},
        "models": rows,
        "all_goals_met": all(
            r["time_ratio"] <= TIME_GOAL and r["arena_ratio"] <= ARENA_GOAL and r["bit_exact"]
            for r in rows
        ),
        "library_size": library_sizes(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{'model':24s} {'exact':>5s} {'builtin ms':>10s} {'tflm ms':>9s} {'time':>6s} "
        f"{'litert ms':>9s} {'vs lite':>7s} {'arena B':>8s} {'tflm min B':>10s} {'arena':>6s}"
    )
    for r in rows:
        print(
            f"{r['model']:24s} {r['bit_exact']!s:>5s} {r['builtin_ms']:10.3f} "
            f"{r['tflm_ms']:9.3f} {r['time_ratio']:6.3f} {_opt(r['litert_ms'], 9)} "
            f"{_opt(r['litert_ratio'], 7)} {r['builtin_arena']:8d} "
            f"{r['tflm_min_arena']:10d} {r['arena_ratio']:6.3f}"
        )
    for name, s in report["library_size"].items():
        print(f"size {name}: text {s['text']} data {s['data']} bss {s['bss']}")
    print(
        "goals (time <= 0.5, arena <= 1.0, bit-exact):",
        "met" if report["all_goals_met"] else "NOT met",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
