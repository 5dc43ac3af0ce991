"""Pipeline executor of the C runtime (not collected by pytest: a measurement).

    PYTHONPATH=. .venv/bin/python tests/bench/bench_pipeline_device.py [--seconds S]

One message circulates for S seconds in a ring of EVP sinks that forward what they receive
(guests/src/evp/evp_sink.c, forward_to set, no state reports), while the host stays silent:
posix with wasm2c (the guest compiled to native code, so mostly the executor remains) and
WAMR, qemu-rv32 (-icount shift=0) with wasm2c (the EVP modules built in) and WAMR classic. The cost of one hop is the device counter spent between two STATUS requests divided by the messages received in
between: nanoseconds on posix, instructions retired on qemu-rv32. A hop is the whole
round: EVP_sendMessage (copy, route, queue), the task switch, EVP_processEvent on the receiver,
its malloc + message callback through the function table + free, the sink's own C (a malloc'd
copy, the forward from its main loop) and the sent-callback. "ring 1" is one instance sending
to itself (a task switch per EVP_processEvent through the serve loop all the same), "ring 2"
two instances passing the message back and forth. Also: heap in use per bound instance and
task stack high-water (STATS, PIPE_STATUS).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from build_tools.devices.qemu_session import QemuSession
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import Target, load_target, with_runtime
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import CounterUnit
from edge_runtime.protocol.streams import ProcessStream
from tests.runtime_c.pipe_device import Pipe, evp_modules


def ring(pipe: Pipe, modules: dict[str, Path], size: int, seconds: float) -> dict[str, float]:
    pipe.upload(modules, "evp_sink")
    heap0 = pipe.client.stats().heap_in_use
    names = [f"r{i}" for i in range(size)]
    for name in names:
        pipe.bind(name, "evp_sink")
    heap_bound = pipe.client.stats().heap_in_use
    for i, name in enumerate(names):
        pipe.subscribe_route(name, "in", f"t{i}")
        pipe.publish_route(name, "out", f"t{(i + 1) % size}")
        pipe.config(name, "forward_to", "out")
        pipe.config(name, "report", "0")
    pipe.start()
    pipe.publish("t0", b"hop")
    time.sleep(0.5)  # steady state
    s0, n0 = pipe.client.stats(), sum(i.received for i in pipe.status().instances)
    time.sleep(seconds)
    s1, n1 = pipe.client.stats(), sum(i.received for i in pipe.status().instances)
    assert s0.counter is not None and s1.counter is not None
    hops = n1 - n0
    out = {
        "hops": hops,
        "per_hop": (s1.counter - s0.counter) / hops,
        "heap_per_instance": (heap_bound - heap0) / size,
        "heap_running": s1.heap_in_use,
        "stack_hw": max(i.stack_high_water for i in pipe.status().instances),
    }
    pipe.client.reset()
    pipe.client.hello()
    return out


def report(label: str, unit: str, r: dict[str, float]) -> None:
    print(
        f"| {label} | {r['hops']:.0f} | {r['per_hop']:.0f} {unit} | "
        f"{r['heap_per_instance'] / 1024:.1f} KiB | {r['heap_running'] / 1024:.1f} KiB | "
        f"{r['stack_hw']:.0f} B |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    print(
        "| device, ring | hops measured | device cost per hop | heap per bound instance "
        "| heap running (all) | task stack high-water |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for engine in ("wasm2c", "wamr"):
        posix: Target = with_runtime(load_target("posix"), engine=engine)
        modules = evp_modules(posix)
        binary = CMakeBuilder().build(posix).binary
        for size in (1, 2):
            stream = ProcessStream([str(binary)])
            try:
                client = DeviceClient(stream, "posix")
                client.hello()
                assert client.stats().counter_unit is CounterUnit.NS
                r = ring(Pipe(client), modules, size, args.seconds)
                report(f"posix {engine}, ring {size}", "ns", r)
            finally:
                stream.close()
    for engine, label in (("wasm2c", "wasm2c"), ("wamr", "wamr classic")):
        qemu = with_runtime(load_target("qemu-rv32"), engine=engine)
        elf = CMakeBuilder().build(qemu).binary
        for size in (1, 2):
            with QemuSession(elf, qemu.name, elf.with_name("qemu.log"), icount_shift=0) as s:
                assert s.stream is not None
                client = DeviceClient(s.stream, qemu.name, timeout=10)
                client.hello()
                assert client.stats().counter_unit is CounterUnit.INSTRET
                r = ring(Pipe(client), evp_modules(qemu), size, args.seconds)
                report(f"qemu-rv32 {label}, ring {size}", "instructions", r)


if __name__ == "__main__":
    main()
