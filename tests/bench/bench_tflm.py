"""Benchmark: the built-in backend against the tflm backend of the C runtime (a measurement,
not a test).

    .venv/bin/python -m tests.bench.bench_tflm [--json] [-n REPEAT] [--rounds R] [--compile-time]

Both backends run in one process (`nn_compare`, built with the posix x tflm runtime), on the
same model and the same random input, one after the other, `--rounds` times; the time per
invoke is the best of all rounds (the machine is shared: the best is the least disturbed).
`ctx` is what one execution context costs on the runtime's accounted heap (arena + context
record + block headers). Outputs are compared byte for byte. Goals: time ratio <= 0.25, ctx
ratio <= 1.0, bit-exact. Also: text size of the TFLM library (upstream core + the registered
kernels + ESP-NN's plain-C kernels) and of the built-in backend, and with --compile-time the
time to compile the upstream part (TFLM + ESP-NN) from scratch (a fresh build directory, 2 jobs).
`tflm_glue_and_verifier_text` includes the whole built-in backend (its parser is the verifier;
a firmware link keeps only what is used).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import nn_upstream_defines, nn_upstream_dir
from build_tools.runtime_c import runtime_dir
from build_tools.toolchains import cmake
from tests.runtime_c import tflm_tools

TIME_GOAL = 0.25
CTX_GOAL = 1.0


def random_inputs() -> bytes:
    """Random bytes for every input (the backends read exactly their inputs' sizes)."""
    return np.random.default_rng(7).integers(0, 256, size=1 << 16, dtype=np.uint8).tobytes()


def bench_model(tool: Path, name: str, repeat: int, rounds: int, work: Path) -> dict[str, Any]:
    model = tflm_tools.model_path(name)
    best: dict[str, float] = {}
    report: dict[str, Any] = {}
    same = True
    for _ in range(rounds):
        report, out_b, out_t = tflm_tools.run_both(tool, model, random_inputs(), work, repeat)
        same = same and out_b == out_t and len(out_b) > 0
        for k in ("builtin", "tflm"):
            if report[k]["status"] != "ok":
                raise SystemExit(f"{name}: {k}: {report[k]['status']} {report[k]['message']}")
            best[k] = min(best.get(k, float("inf")), report[k]["best_ns"])
    return {
        "model": name,
        "builtin_us": best["builtin"] / 1e3,
        "tflm_us": best["tflm"] / 1e3,
        "time_ratio": best["builtin"] / best["tflm"],
        "builtin_ctx": report["builtin"]["ctx_bytes"],
        "tflm_ctx": report["tflm"]["ctx_bytes"],
        "ctx_ratio": report["builtin"]["ctx_bytes"] / report["tflm"]["ctx_bytes"],
        "bit_exact": same,
    }


def text_size(objects: list[Path]) -> int:
    """Sum of the text of object files (before the link's section GC)."""
    out = subprocess.run(
        ["size", "-t", *map(str, objects)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1].split()[0])


def library_objects(build_dir: Path, library: str) -> list[Path]:
    return sorted((build_dir / "CMakeFiles" / f"{library}.dir").rglob("*.o"))


def compile_time(runtime: RuntimeImage) -> float:
    """Seconds to compile the backend's upstream objects (TFLM + ESP-NN) in a fresh build
    directory configured like the shared upstream library's (2 jobs)."""
    with tempfile.TemporaryDirectory(prefix="tflm-compile-") as tmp:
        gen = nn_upstream_dir(runtime.target) / "gen"
        defines = nn_upstream_defines(runtime.target, gen, False)
        source = runtime_dir() / "cmake" / "nn_upstream"
        subprocess.run(cmake.configure_argv(source, tmp, defines), check=True, capture_output=True)
        t0 = time.monotonic()
        subprocess.run(cmake.build_argv(tmp, "rt_nn_ext"), check=True, capture_output=True)
        return time.monotonic() - t0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-n", "--repeat", type=int, default=20, help="timed invokes per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compile-time", action="store_true", help="also time a fresh TFLM build")
    args = ap.parse_args(argv)
    runtime = tflm_tools.build()
    tool = tflm_tools.nn_compare(runtime)
    with tempfile.TemporaryDirectory(prefix="bench-tflm-") as tmp:
        rows = [
            bench_model(tool, name, args.repeat, args.rounds, Path(tmp))
            for name in tflm_tools.MODELS
        ]
    sizes = {
        "tflm_upstream_text": text_size(
            library_objects(nn_upstream_dir(runtime.target) / "cmake", "rt_nn_ext")
        ),
        "tflm_glue_and_verifier_text": text_size(library_objects(runtime.build_dir, "rt_nn")),
    }
    result: dict[str, Any] = {"models": rows, "sizes": sizes}
    if args.compile_time:
        result["tflm_compile_s"] = compile_time(runtime)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{'model':24} {'builtin us':>11} {'tflm us':>10} {'time':>6} "
        f"{'builtin ctx':>12} {'tflm ctx':>9} {'ctx':>5}  bit-exact"
    )
    for r in rows:
        print(
            f"{r['model']:24} {r['builtin_us']:11.1f} {r['tflm_us']:10.1f} "
            f"{r['time_ratio']:6.2f} {r['builtin_ctx']:12d} {r['tflm_ctx']:9d} "
            f"{r['ctx_ratio']:5.2f}  {'yes' if r['bit_exact'] else 'NO'}"
        )
    print(f"goals: time ratio <= {TIME_GOAL}, ctx ratio <= {CTX_GOAL}, bit-exact")
    for k, v in sizes.items():
        print(f"{k}: {v} bytes")
    if "tflm_compile_s" in result:
        print(f"TFLM library compile (fresh, 2 jobs): {result['tflm_compile_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
