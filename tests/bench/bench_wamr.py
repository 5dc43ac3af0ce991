"""WAMR vs wasm2c in the C runtime. Run: .venv/bin/python tests/bench/bench_wamr.py [--rounds N]

1. Speed (posix): guests/src/preprocess.c `bench(iters)` (bilinear resize 320x240 RGB -> 96x96 +
   int8 normalisation) in the posix runtime with wasm2c, WAMR's fast and WAMR's classic
   interpreter. Rounds are interleaved (wasm2c, fast, classic, wasm2c, ...); the device-side
   elapsed time of each CALL is used, so the link is not measured; medians and ratios.
2. Call round trip (posix, protocol over a pipe): `CALL hello.add` N times per runtime, wall
   time per request on the host; interleaved in blocks of 100.
3. RAM to load each guest (qemu-rv32, 32-bit pointers like the ESP32): the runtime's accounted
   heap in use before the upload, after PUT (module validated and loaded; the fast interpreter
   has translated it and freed the upload, the classic one keeps the bytes to run them in
   place) and after INSTANTIATE (linear memory, WAMR's per-instance stack and structures).
4. Footprint (rv32 firmware): text / rodata / data / bss of the engine (wasm2c: its runtime and
   the translated guests; wamr: WAMR + glue) and of the builtin backend, from the map file.

Instructions per inference and the RAM high-water on qemu-rv32 for either engine:
`tests/bench/bench_qemu.py --engine wamr`.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from build_tools.firmware.cmake import CMakeBuilder
from build_tools.footprint import by_component
from build_tools.guests import build_guests
from build_tools.paths import build_root, repo_root
from build_tools.targets import Target, load_target, with_runtime
from build_tools.toolchains import wabt
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import Kind
from edge_runtime.protocol.streams import ProcessStream
from tests.bench.bench_wasm2c import GUEST, bench_target

RUNTIMES = (
    ("wasm2c", "wasm2c", "fast"),
    ("wamr fast", "wamr", "fast"),
    ("wamr classic", "wamr", "classic"),
)


def variant(target: Target, engine: str, interp: str) -> Target:
    target = with_runtime(target, engine=engine)
    return dataclasses.replace(
        target, runtime=dataclasses.replace(target.runtime, wamr_interp=interp)
    )


class Posix:
    """One posix runtime process with the benchmark guest instantiated."""

    def __init__(self, label: str, engine: str, interp: str) -> None:
        target = variant(bench_target(), engine, interp)
        rt = CMakeBuilder().build(target)
        self.label = label
        self.stream = ProcessStream([str(rt.binary)])
        self.client = DeviceClient(self.stream, f"{target.name}/{label}")
        self.client.hello()
        guests = build_guests(target)
        wasm = {g.name: (guests.directory / g.path).read_bytes() for g in guests.guests}
        self.bench = self._instance(GUEST, wasm[GUEST])
        self.hello = self._instance("hello", wasm["hello"])

    def _instance(self, name: str, wasm: bytes) -> int:
        if self.client.info is not None and self.client.info.can_load_modules:
            self.client.put(Kind.MODULE, name, wasm)
        return self.client.instantiate(name)

    def close(self) -> None:
        self.stream.close()


def speed_and_round_trip(rounds: int, iters: int, calls: int) -> None:
    runtimes = [Posix(*r) for r in RUNTIMES]
    try:
        elapsed: dict[str, list[int]] = {r.label: [] for r in runtimes}
        results: set[int] = set()
        for r in runtimes:
            r.client.call(r.bench, "bench", [2], timeout=60)  # warm up
        for _ in range(rounds):
            for r in runtimes:
                out = r.client.call(r.bench, "bench", [iters], timeout=120)
                if out.result is None:
                    raise SystemExit(f"{r.label}: bench failed: {out.outcome.name} {out.message}")
                results.add(out.result)
                elapsed[r.label].append(out.elapsed_us)
        if len(results) != 1:
            raise SystemExit(f"the runtimes disagree on the result: {sorted(results)}")
        base = statistics.median(elapsed["wasm2c"])
        print(f"## preprocess x{iters} on posix, {rounds} interleaved rounds (device time)\n")
        print("| runtime | median ms | us/frame | vs wasm2c |\n|---|---:|---:|---:|")
        for label, us in elapsed.items():
            m = statistics.median(us)
            print(f"| {label} | {m / 1000:.1f} | {m / iters:.0f} | {m / base:.2f}x |")

        trips: dict[str, list[float]] = {r.label: [] for r in runtimes}
        for block in range(0, calls, 100):
            for r in runtimes:
                for i in range(block, min(block + 100, calls)):
                    t0 = time.perf_counter()
                    if r.client.call(r.hello, "add", [i, 1]).result != i + 1:
                        raise SystemExit(f"{r.label}: add returned a wrong value")
                    trips[r.label].append(time.perf_counter() - t0)
        print(f"\n## CALL hello.add round trip on posix (pipe), {calls} calls each\n")
        print("| runtime | median us | p99 us |\n|---|---:|---:|")
        for label, t in trips.items():
            t.sort()
            p99 = t[int(len(t) * 0.99) - 1]
            print(f"| {label} | {statistics.median(t) * 1e6:.0f} | {p99 * 1e6:.0f} |")
    finally:
        for r in runtimes:
            r.close()


def load_ram(target: Target) -> None:
    from build_tools.devices.base import open_device

    guests = build_guests(target)
    wasm = {g.name: (guests.directory / g.path).read_bytes() for g in guests.guests}
    witx = build_root() / "bench-wamr" / "witx_infer.wasm"
    witx.parent.mkdir(parents=True, exist_ok=True)
    wabt.wat2wasm(repo_root() / "guests" / "wat" / "witx_infer.wat", witx)
    wasm["witx_infer (WAT)"] = witx.read_bytes()
    rows: dict[str, dict[str, tuple[int, int]]] = {}
    for interp in ("fast", "classic"):
        wamr = variant(target, "wamr", interp)
        fw = CMakeBuilder().build(wamr)
        dut = open_device(wamr, {"firmware": fw.binary, "build": False})
        with dut:
            client: DeviceClient = dut.client  # type: ignore[attr-defined]
            for name, data in wasm.items():
                h0 = client.stats().heap_in_use
                client.put(Kind.MODULE, name.split()[0], data)
                h1 = client.stats().heap_in_use
                iid = client.instantiate(name.split()[0])
                h2 = client.stats().heap_in_use
                client.drop(iid)
                rows.setdefault(name, {})[interp] = (h1 - h0, h2 - h1)
    print("\n## RAM to load each guest in WAMR on qemu-rv32 (accounted heap, bytes)\n")
    print(
        "| guest | wasm bytes | module, fast | module, classic | instance, fast | "
        "instance, classic |\n|---|---:|---:|---:|---:|---:|"
    )
    for name, r in rows.items():
        print(
            f"| {name} | {len(wasm[name])} | {r['fast'][0]} | {r['classic'][0]} | "
            f"{r['fast'][1]} | {r['classic'][1]} |"
        )


def footprint(target: Target) -> None:
    print("\n## rv32 firmware footprint (bytes, from the map file)\n")
    print("| engine | part | text | rodata | data | bss |\n|---|---|---:|---:|---:|---:|")
    for label, engine, interp in RUNTIMES:
        fw = CMakeBuilder().build(variant(target, engine, interp))
        assert fw.map_file is not None
        parts = by_component(fw.map_file, fw.objects, fw.sources.models, fw.binary)
        groups = {
            "engine": [p for p in parts if p == "engine"],
            "guests (translated)": [p for p in parts if p.startswith("guest:")],
            "backend (builtin)": ["backend"],
        }
        for group, names in groups.items():
            if not names:
                continue
            tot = {k: sum(parts[n][k] for n in names) for k in ("text", "rodata", "data", "bss")}
            print(
                f"| {label} | {group} | {tot['text']} | {tot['rodata']} | {tot['data']} | "
                f"{tot['bss']} |"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--skip-qemu", action="store_true", help="posix measurements only")
    args = ap.parse_args()
    speed_and_round_trip(args.rounds, args.iters, args.calls)
    if not args.skip_qemu:
        qemu = load_target("qemu-rv32")
        load_ram(qemu)
        footprint(qemu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
