"""Pipeline benchmark (not collected by pytest: a measurement, not a timed test).

    .venv/bin/python tests/bench/bench_pipeline.py [-n MESSAGES] [--repeat R]
        [--devices [--device-scale F]]

Runs the EVP modules of guests/src/evp/ on the Python host, side by side in one process:
  2-stage  source -> sink               (1 hop per message)
  3-stage  source -> relay -> sink      (2 hops per message)
each with the ctypes fast call path and with wasmtime-py's public API. Timed in steady state
(from the sink's first message to its N-th): messages per second (wall clock), and process CPU
time per message over all threads; the cost of one hop is the 3-stage CPU time per message
minus the 2-stage one (the source and sink work cancels out). CPU time rather than wall time
because stages overlap while wasm runs outside the GIL, and the machine may be shared. A hop is: EVP_sendMessage (copy out, route,
queue, wake the receiver's thread), EVP_processEvent on the receiver, malloc + callback through
the function table + free. A direct guest export call is timed as the unit of comparison.

With --devices the same 2- and 3-stage deployments also run, in the same process one after the
other, on the host and on the C runtime (WAMR: it loads the modules at run time) as a process
(posix) and on the emulated MCU (qemu-rv32), each through its device adapter (`Dut.deployment`:
the host's executor, or the device's own over the device protocol). Wall clock only (a device's
CPU time is not this process's): messages per second, and the cost of a hop as the 3-stage
minus the 2-stage wall time per message where the target holds three instances (qemu-rv32
holds two: its 2-stage figure is one hop plus the source's and the sink's work). The device
runs its instances as cooperative tasks on one core, so stage times add up there; on the host
they overlap, so its wall figure per hop understates the work (the CPU figures are its cost).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from build_tools.devices.base import open_device
from build_tools.devices.host import runtime_for
from build_tools.devices.posix import runtime_binary
from build_tools.guests import build_evp_modules, build_guests
from build_tools.targets import Target, load_target, with_runtime
from edge_runtime.deployment import parse_deployment
from edge_runtime.host.pipeline import Pipeline

# --devices: where the deployments run (the C runtime with WAMR, which loads modules).
DEVICES = {
    "host": load_target("host"),
    "posix": with_runtime(load_target("posix"), engine="wamr"),
    "qemu-rv32": with_runtime(load_target("qemu-rv32"), engine="wamr"),
}
# Messages per run, so that each lasts about a second or more (--device-scale multiplies).
DEVICE_MESSAGES = {"host": 3000, "posix": 20000, "qemu-rv32": 500}


def _module(path: Path) -> dict[str, str]:
    return {
        "moduleImpl": "wasm",
        "downloadUrl": path.resolve().as_uri(),
        "hash": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def _manifest(modules: dict[str, Path], stages: int, n: int) -> dict[str, Any]:
    specs: dict[str, Any] = {
        "source": {"moduleId": "src", "publish": {"out": "t0-pub"}, "subscribe": {}}
    }
    project: dict[str, Any] = {"source": {"config": {"count": n}}}
    for i in range(1, stages - 1):
        specs[f"relay{i}"] = {
            "moduleId": "snk",
            "publish": {"out": f"t{i}-pub"},
            "subscribe": {"in": f"t{i - 1}-sub"},
        }
        project[f"relay{i}"] = {"config": {"forward_to": "out", "report": 0}}
    specs["sink"] = {"moduleId": "snk", "publish": {}, "subscribe": {"in": f"t{stages - 2}-sub"}}
    project["sink"] = {"config": {"report": 0}}
    topics = range(stages - 1)
    return {
        "deployment": {
            "deploymentId": f"bench-{stages}",
            "instanceSpecs": specs,
            "modules": {"src": _module(modules["evp_source"]), "snk": _module(modules["evp_sink"])},
            "publishTopics": {f"t{i}-pub": {"type": "local", "topic": f"t{i}"} for i in topics},
            "subscribeTopics": {f"t{i}-sub": {"type": "local", "topic": f"t{i}"} for i in topics},
            "x-build-tools": {"instances": project},
        }
    }


def run_once(modules: dict[str, Path], stages: int, n: int, fast: bool) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) from the sink's first message to its (n+1)-th."""
    target = load_target("host")
    runtime = runtime_for(target, {})
    runtime.fastcall = runtime.fastcall and fast
    m = _manifest(modules, stages, n + 1)
    pipeline = Pipeline(parse_deployment(json.dumps(m)), runtime, "host")
    try:
        pipeline.start()
        if not pipeline.wait(seconds=600, messages=1):
            raise SystemExit(f"{stages}-stage pipeline delivered nothing: {pipeline.status()}")
        wall, cpu = time.perf_counter(), time.process_time()
        if not pipeline.wait(seconds=600, messages=n + 1):
            raise SystemExit(f"{stages}-stage pipeline stalled: {pipeline.stats()}")
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        pipeline.stop()
        runtime.close()


def run_on_device(target: Target, modules: dict[str, Path], stages: int, n: int) -> float:
    """Seconds per message received by the sink, timed from the first poll that saw one to the
    one that saw all n (the messages the sink had before are not counted: a device runs while
    the host is not looking)."""
    options: dict[str, Any] = {}
    if target.runtime.kind == "c":
        options["binary"] = runtime_binary(target, {})  # built once, not checked per run
    m = _manifest(modules, stages, n)
    with open_device(target, options) as dut:
        run: Any = dut.deployment(parse_deployment(json.dumps(m)), lambda _event: None)
        try:
            run.start()
            if not run.wait(seconds=600, messages=1):
                raise SystemExit(f"{target.name}: {stages}-stage delivered nothing: {run.status()}")
            wall, first = time.perf_counter(), run.received_total()
            if not run.wait(seconds=600, messages=n):
                raise SystemExit(f"{target.name}: {stages}-stage stalled: {run.status()}")
            seconds, last = time.perf_counter() - wall, run.received_total()
        finally:
            run.stop()
    if last - first < n // 2:
        raise SystemExit(f"{target.name}: {stages}-stage: only {last - first} messages timed")
    return seconds / (last - first)


def device_results(modules: dict[str, Path], scale: float, repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, target in DEVICES.items():
        n = max(100, round(DEVICE_MESSAGES[name] * scale))
        fits = [s for s in (2, 3) if s <= target.limits.max_instances]  # qemu-rv32 holds 2
        per_msg = {
            stages: statistics.median(
                run_on_device(target, modules, stages, n) for _ in range(repeat)
            )
            for stages in fits
        }
        entry: dict[str, Any] = {"engine": target.runtime.engine, "messages": n}
        for stages, label in ((2, "two"), (3, "three")):
            if stages in per_msg:
                entry[f"{label}_stage_msgs_per_s"] = round(1 / per_msg[stages])
                entry[f"{label}_stage_wall_us_per_msg"] = round(per_msg[stages] * 1e6, 1)
        if len(per_msg) == 2:
            entry["hop_wall_us"] = round((per_msg[3] - per_msg[2]) * 1e6, 1)
        out[name] = entry
    host = out["host"]["two_stage_msgs_per_s"]
    for entry in out.values():
        entry["two_stage_rate_vs_host"] = round(entry["two_stage_msgs_per_s"] / host, 3)
    return out


def direct_call_us(fast: bool, calls: int = 20000) -> float:
    target = load_target("host")
    built = build_guests(target)
    wasm = next((built.directory / g.path).read_bytes() for g in built.guests if g.name == "hello")
    runtime = runtime_for(target, {})
    runtime.fastcall = runtime.fastcall and fast
    try:
        inst = runtime.instantiate("hello", wasm)
        inst.call("add", [1, 2])
        start = time.perf_counter()
        for _ in range(calls):
            inst.call("add", [1, 2])
        return (time.perf_counter() - start) / calls * 1e6
    finally:
        runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--devices", action="store_true", help="also posix and qemu-rv32")
    parser.add_argument("--device-scale", type=float, default=1.0)
    args = parser.parse_args()
    modules = build_evp_modules(load_target("host"))
    n = args.messages
    results: dict[str, Any] = {"messages": n, "repeat": args.repeat}
    for label, fast in (("fast", True), ("public_api", False)):
        wall: dict[int, float] = {}
        cpu: dict[int, float] = {}
        for stages in (2, 3):
            runs = [run_once(modules, stages, n, fast) for _ in range(args.repeat)]
            wall[stages] = statistics.median(w for w, _ in runs)
            cpu[stages] = statistics.median(c for _, c in runs)
        hop_us = (cpu[3] - cpu[2]) / n * 1e6
        call_us = direct_call_us(fast)
        results[label] = {
            "two_stage_msgs_per_s": round(n / wall[2]),
            "three_stage_msgs_per_s": round(n / wall[3]),
            "two_stage_cpu_us_per_msg": round(cpu[2] / n * 1e6, 1),
            "three_stage_cpu_us_per_msg": round(cpu[3] / n * 1e6, 1),
            "hop_cpu_us": round(hop_us, 1),
            "direct_export_call_us": round(call_us, 2),
            "hop_over_direct_call": round(hop_us / call_us, 1),
        }
    if args.devices:
        results["devices"] = device_results(modules, args.device_scale, args.repeat)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
