"""wasm2c vs native on a compute-heavy guest, and code size of the C runtime's parts.

Run as a script (not collected as a test):  python tests/bench/bench_wasm2c.py [--rounds N]

1. Speed: guests/src/preprocess.c (bilinear resize of a 320x240 RGB frame to 96x96 + int8
   normalisation) runs `bench(iters)` inside the posix C runtime (wasm2c, explicit bounds
   checks) and as the same C compiled natively with the same compiler and -O2. Rounds are
   interleaved (wasm2c, native, wasm2c, ...) and the medians compared; the device-side elapsed
   time of the CALL is used, so the protocol link is not measured. Goal: ratio <= 1.3.
2. Size: `size` (text/data/bss) of the core, engine and NN backend static libraries.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from build_tools.firmware.cmake import CMakeBuilder
from build_tools.paths import build_root, repo_root
from build_tools.targets import Target, load_target
from build_tools.toolchains import runner
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.streams import ProcessStream

log = logging.getLogger(__name__)

GUEST = "preprocess"
ITERS = 200

HARNESS = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int32_t bench(int32_t iters);
int main(int argc, char **argv) {
    int32_t iters = argc > 1 ? atoi(argv[1]) : 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int32_t r = bench(iters);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long us = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
    printf("%lld %d\n", us, (int)r);
    return 0;
}
"""


def bench_target() -> Target:
    """The posix target with the benchmark guest added (built under its own name)."""
    t = load_target("posix")
    guests = dataclasses.replace(t.guests, modules=(*t.guests.modules, GUEST))
    return dataclasses.replace(t, name="posix-bench", guests=guests)


def build_native(out: Path, opt: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    harness = out / "harness.c"
    harness.write_text(HARNESS)
    exe = out / f"preprocess_native{opt}"
    source = repo_root() / "guests" / "src" / f"{GUEST}.c"
    runner.run(["cc", "-std=gnu99", opt, "-o", str(exe), str(source), str(harness)], "native")
    return exe


def run_native(exe: Path, iters: int) -> tuple[int, int]:
    out = subprocess.run([str(exe), str(iters)], capture_output=True, text=True, check=True)
    us, result = out.stdout.split()
    return int(us), int(result)


def sizes(build_dir: Path) -> list[tuple[str, int, int, int]]:
    """text/data/bss per component, summed over each CMake object library's objects."""
    rows = []
    for libs, label in (
        (("rt_core", "rt_proto", "rt_models_ext"), "core (+ protocol, model table)"),
        (("rt_engine", "rt_engine_ext", "rt_guests_ext"), "engine (wasm2c runtime + guests)"),
        (("rt_nn",), "nn backend (builtin)"),
    ):
        objs = [
            str(o)
            for lib in libs
            for o in sorted((build_dir / "CMakeFiles" / f"{lib}.dir").rglob("*.o"))
        ]
        text = subprocess.run(
            ["size", "-t", *objs], capture_output=True, text=True, check=True
        ).stdout
        total = next(ln for ln in text.splitlines() if "(TOTALS)" in ln).split()
        rows.append((label, int(total[0]), int(total[1]), int(total[2])))
    return rows


def object_sizes(build_dir: Path, pattern: str) -> list[tuple[str, int, int]]:
    objs = sorted(build_dir.rglob("*.o"))
    out = subprocess.run(
        ["size", *map(str, objs)], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for ln in out.splitlines()[1:]:
        f = ln.split()
        if re.search(pattern, f[-1]):
            rows.append((Path(f[-1]).name, int(f[0]), int(f[1])))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=ITERS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for tool in ("cmake", "wasm2c", "clang-19", "cc", "size"):
        if shutil.which(tool) is None:
            print(f"skipped: {tool} not found", file=sys.stderr)
            return 0
    target = bench_target()
    rt = CMakeBuilder().build(target)
    # -O2: what the runtime's own C gets, and the level guests are compiled at before wasm2c
    # (build_tools/toolchains/wasi_clang.py). -Oz: for reference, a size-optimised native build.
    native = build_native(build_root() / target.name / "native", "-O2")
    native_oz = build_native(build_root() / target.name / "native", "-Oz")

    stream = ProcessStream([str(rt.binary)])
    client = DeviceClient(stream, target.name)
    w2c_us: list[int] = []
    nat_us: list[int] = []
    oz_us: list[int] = []
    try:
        client.hello()
        inst = client.instantiate(GUEST)
        client.call(inst, "bench", [2])  # warm up
        run_native(native, 2)
        for _ in range(args.rounds):
            r = client.call(inst, "bench", [args.iters], timeout=60)
            if r.result is None:
                raise SystemExit(f"bench failed in the runtime: {r.outcome.name} {r.message}")
            w2c_us.append(r.elapsed_us)
            us, native_result = run_native(native, args.iters)
            nat_us.append(us)
            oz_us.append(run_native(native_oz, args.iters)[0])
            if native_result != r.result:
                raise SystemExit(f"results differ: wasm2c {r.result}, native {native_result}")
            time.sleep(0.05)
    finally:
        stream.close()

    w2c, nat = statistics.median(w2c_us), statistics.median(nat_us)
    print(f"preprocess x{args.iters} (320x240 RGB -> 96x96 int8), {args.rounds} interleaved rounds")
    print(
        f"  wasm2c (bounds-checked)  median {w2c / 1000:8.2f} ms  ({w2c / args.iters:7.1f} us/frame)"
    )
    print(
        f"  native                   median {nat / 1000:8.2f} ms  ({nat / args.iters:7.1f} us/frame)"
    )
    oz = statistics.median(oz_us)
    print(
        f"  native -Oz               median {oz / 1000:8.2f} ms  ({oz / args.iters:7.1f} us/frame)"
    )
    ratio = w2c / nat
    verdict = "met" if ratio <= 1.3 else "NOT met"
    print(f"  ratio wasm2c / native -O2  {ratio:.2f}  (goal <= 1.3: {verdict})")
    print(f"  ratio wasm2c / native -Oz  {w2c / oz:.2f}")
    print()
    build_dir = rt.build_dir
    print(f"{'code size (size -t, bytes)':40} {'text':>9} {'data':>8} {'bss':>8}")
    for label, text, data, bss in sizes(build_dir):
        print(f"  {label:38} {text:9} {data:8} {bss:8}")
    print("per object (text, data):")
    for name, text, data in object_sizes(
        build_dir, r"(rt_|nnb_|builtin_glue|proto_|wasm-rt-impl|w2c_)[^/]*\.o$"
    ):
        print(f"  {name:38} {text:9} {data:8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
