"""Benchmarks of the emulated MCU (qemu-rv32). Run: .venv/bin/python tests/bench/bench_qemu.py
[--engine wasm2c|wamr] [--interp fast|classic] (default: the target's engine; with wamr every
guest is uploaded at run time, before the measured calls)

- Instructions per inference, two ways. (1) The counter: the device reads the rv32 `minstret`
  CSR around each CALL and reports the difference in STATS (`last_call_instructions`); QEMU
  counts instructions in it only with -icount. (2) The cross-check: with `-icount shift=0`
  virtual time advances 1 ns per guest instruction, the CLINT timer (10 MHz) counts
  instructions / 100 and the device reports each call's elapsed time from it, so instructions =
  elapsed_us * 1000 (resolution 1000 instructions). The counter also covers the core's few
  instructions around the engine call. The figure covers the classify export (set_input copy,
  compute, get_output); the model is loaded and its arena planned by a first, unmeasured call.
- Heap and stack high-water of the measured call: the peaks are reset (STATS RESET_PEAKS) after
  the first call, so they cover the second call plus the serve loop's own depth.
- ESP32-C3 estimate: instructions / 160 MHz, assuming CPI = 1 (the C3 is a single-issue
  in-order core; flash cache misses and multi-cycle mul/div make the real figure higher).
- Footprint per component from the ELF and map; RAM high-water from the device's STATS.
- Protocol: payload / wire bytes for a model upload (protocol firmware, which stores uploads in
  RAM) and round-trip time per CALL over the emulated serial line (no icount).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from build_tools.devices.base import open_device
from build_tools.devices.qemu_session import QemuSession
from build_tools.firmware.cmake import CMakeBuilder, build_protocol_firmware
from build_tools.footprint import by_component, image_usage
from build_tools.paths import shared_root
from build_tools.targets import load_target, with_runtime
from edge_runtime.protocol import DeviceClient
from edge_runtime.protocol.messages import Kind

C3_HZ = 160e6
TFLM_C3_PERSON_MS = {"ESP-NN": 426, "reference kernels": 3355}


def input_shape(model: Path) -> list[int]:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(model))
    return [int(d) for d in interp.get_input_details(0)["shape"]]


def write(dut, iid: int, data: bytes) -> int:  # type: ignore[no-untyped-def]
    addr = dut.call(iid, "alloc", [max(len(data), 1)]).value
    dut.write_memory(iid, addr, data)
    return int(addr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", help="wasm engine (default: the target's)")
    ap.add_argument("--interp", help="WAMR interpreter: fast or classic (default: the target's)")
    args = ap.parse_args()
    target = with_runtime(load_target("qemu-rv32"), engine=args.engine)
    if args.interp:
        target = dataclasses.replace(
            target, runtime=dataclasses.replace(target.runtime, wamr_interp=args.interp)
        )
    fw = CMakeBuilder().build(target)
    elf = fw.binary
    print(
        f"## Footprint ({target.runtime.engine}, {elf.name}, budget {target.memory.ram_kib} KiB RAM, "
        f"{target.memory.flash_kib} KiB flash)\n"
    )
    print("| component | text | rodata | data | bss |\n|---|---:|---:|---:|---:|")
    parts = by_component(fw.map_file, fw.objects, fw.sources.models, elf)
    for name, s in parts.items():
        print(f"| {name} | {s['text']} | {s['rodata']} | {s['data']} | {s['bss']} |")
    use = image_usage(elf)
    print(
        f"\nflash {use.flash} B; RAM: static {use.static_ram} B + stack {use.stack} B + "
        f"heap {use.heap} B = {use.static_ram + use.stack + use.heap} B of "
        f"{target.memory.ram_kib * 1024} B\n"
    )

    print("## Inference on qemu-rv32 (-icount shift=0)\n")
    print(
        "| model | input | instructions (instret) | instructions (-icount timer) | "
        "est. ESP32-C3 @160 MHz, CPI 1 | heap high-water | stack high-water | host wall |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    classify = (fw.guests.directory / "classify.wasm").read_bytes()
    rng = np.random.default_rng(1)
    for model in fw.sources.models:
        shape = input_shape(shared_root() / "models" / f"{model}.tflite")
        count = int(np.prod(shape))
        if model == "person_detect":
            from build_tools.conformance.inputs import bmp_gray_int8, shared_file

            data = bmp_gray_int8(shared_file("images", "person.bmp")).astype("int8").tobytes()
        else:
            data = rng.integers(-128, 128, count, dtype=np.int8).tobytes()
        with open_device(target, {"firmware": elf, "build": False, "icount_shift": 0}) as dut:
            iid = dut.instantiate("classify", classify)
            name = write(dut, iid, model.encode())
            dims = write(dut, iid, b"".join(d.to_bytes(4, "little") for d in shape))
            inp = write(dut, iid, data)
            args = [name, len(model), dims, len(shape), inp, len(data)]
            first = dut.call(iid, "classify", args)
            dut.stats(reset_peaks=True)
            t0 = time.perf_counter()
            out = dut.call(iid, "classify", args)
            wall = time.perf_counter() - t0
            stats = dut.client.stats()  # type: ignore[attr-defined]
        if out.status != "ok" or (out.value or 0) < 0:
            print(
                f"| {model} | {shape} | {out.status} {out.value} {out.message} {first.message} "
                "| | | | | |"
            )
            continue
        timer = out.elapsed_us * 1000
        counted = stats.last_call_instructions
        instr = counted if counted is not None else timer
        stack = stats.stack_high_water
        print(
            f"| {model} | {shape} | "
            f"{f'{counted:,}' if counted is not None else 'n/a'} | {timer:,} | "
            f"{instr / C3_HZ * 1000:.1f} ms | {stats.ram_high_water / 1024:.1f} KiB | "
            f"{f'{stack / 1024:.1f} KiB' if stack else 'n/a'} | {wall * 1000:.0f} ms |"
        )
    print(
        "\nPublished TFLM person_detect on ESP32-C3: "
        + ", ".join(f"{k} {v} ms" for k, v in TFLM_C3_PERSON_MS.items())
    )

    print("\n## Protocol over the emulated serial line\n")
    with open_device(target, {"firmware": elf, "build": False}) as dut:
        iid = dut.instantiate("hello", (fw.guests.directory / "hello.wasm").read_bytes())
        times = []
        for i in range(200):
            t0 = time.perf_counter()
            dut.call(iid, "add", [i, 1])
            times.append(time.perf_counter() - t0)
        print(
            f"CALL add round trip: median {statistics.median(times) * 1000:.2f} ms, "
            f"p95 {sorted(times)[189] * 1000:.2f} ms (200 calls)"
        )
    proto = build_protocol_firmware(target)
    blob = (shared_root() / "models" / "person_detect.tflite").read_bytes()
    with QemuSession(proto.elf, target.name, proto.elf.with_name("qemu.log")) as s:
        assert s.stream is not None
        client = DeviceClient(s.stream, target.name, timeout=5)
        client.hello()
        out0 = client.wire_bytes_out
        t0 = time.perf_counter()
        client.put(Kind.MODEL, "pd", blob[:60000])
        dt = time.perf_counter() - t0
        wire = client.wire_bytes_out - out0
        print(
            f"model upload (60000 B of person_detect, sha256 {hashlib.sha256(blob[:60000]).hexdigest()[:12]}): "
            f"payload/wire {60000 / wire:.3f} ({wire} wire bytes host->device), "
            f"{60000 / dt / 1024:.1f} KiB/s"
        )


if __name__ == "__main__":
    main()
