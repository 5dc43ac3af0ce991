"""Image handles (edge_image, docs/abi.md section 7): bytes copied per frame and time per op, on
the Pi host (wasmtime + numpy) and the C runtime as a process (posix: wasm2c + C), measured side
by side in one run. Run: .venv/bin/python tests/bench/bench_image.py [-n REPEAT] [--qemu]

Per frame: a 320x240 gray8 camera frame becomes the 96x96 int8 input of person_detect (crop the
centred 240x240 square, nearest resize, p - 128). Three ways:

- copy: the frame is written into linear memory, the guest crops/resizes in wasm
  (image_probe's `copy_pipeline`) into a tensor in linear memory, and set_input copies it in;
- handles: the frame is written into linear memory, `create` copies it into the runtime, crop
  is a view, resize runs natively, `to_tensor` writes the model input directly;
- native frame (Pi host only: the embedding's `put_frame`, as a camera's numpy array would
  arrive): as handles, but the frame never enters linear memory.

Bytes are counted from the lengths each way moves (the ABI fixes them); times are each call's
elapsed time as the runtime reports it (host: around the wasmtime call; posix: the runtime's own
clock around the export), the median of REPEAT calls.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from build_tools.conformance.suite import target_guests
from build_tools.devices.base import open_device
from build_tools.devices.host import HostDut
from build_tools.targets import load_target

W, H, SIDE, X0 = 320, 240, 240, 40
GRAY, RGB, YUV = 0, 1, 2
TENSOR = 96 * 96
C3_HZ = 160e6


class Bench:
    def __init__(
        self, dut: Any, wasm: bytes, repeat: int, w: int = W, h: int = H, rgb: bool = True
    ) -> None:
        self.dut = dut
        self.repeat = repeat
        self.w, self.h, self.side, self.x0 = w, h, h, (w - h) // 2  # the centred square
        self.iid = dut.instantiate("image_probe", wasm)
        rng = np.random.default_rng(1)
        self.gray = rng.integers(0, 256, (h, w), dtype=np.uint8)
        self.rgb = rng.integers(0, 256, (h, w * 3 if rgb else 1), dtype=np.uint8)
        self.buf = {
            name: self.alloc(size)
            for name, size in [
                ("gray", w * h),
                ("rgb", self.rgb.size),
                ("tensor", TENSOR),
                ("out", w * h * 3 if rgb else TENSOR),
                ("h", 4 * 8),
                ("n", 4),
                ("name", 16),
                ("g", 4),
                ("ctx", 4),
            ]
        }
        dut.write_memory(self.iid, self.buf["gray"], self.gray.tobytes())
        dut.write_memory(self.iid, self.buf["rgb"], self.rgb.tobytes())
        dut.write_memory(self.iid, self.buf["name"], b"person_detect")
        self.ok("nn_load_by_name", self.buf["name"], 13, self.buf["g"])
        self.ok("nn_init_execution_context", self.u32("g"), self.buf["ctx"])
        self.ctx = self.u32("ctx")

    def alloc(self, size: int) -> int:
        return int(self.dut.call(self.iid, "alloc", [size]).value)

    def u32(self, name: str, slot: int = 0) -> int:
        raw = self.dut.read_memory(self.iid, self.buf[name] + 4 * slot, 4)
        return int(struct.unpack("<I", raw)[0])

    def ok(self, export: str, *args: int) -> int:
        out = self.dut.call(self.iid, export, list(args))
        if out.status != "ok" or out.value != 0:
            raise SystemExit(f"{export}{args}: {out.status} {out.value} {out.message}")
        return int(out.elapsed_us)

    def handle(self, slot: int) -> int:
        return self.buf["h"] + 4 * slot

    def timed(self, make: Any, export: str, args: Any, drop: bool = True) -> float:
        """Median elapsed µs of `export(*args(handles))`; `make` prepares inputs each time."""
        times = []
        for _ in range(self.repeat):
            make()
            times.append(self.ok(export, *args()))
            if drop:
                self.ok("img_drop", self.u32("h", 7))
        return statistics.median(times)

    def create(self, fmt: int, slot: int = 0) -> None:
        src, bpp = ("gray", 1) if fmt == GRAY else ("rgb", 3)
        self.ok(
            "img_create",
            self.w,
            self.h,
            fmt,
            self.buf[src],
            self.w * self.h * bpp,
            self.handle(slot),
        )

    def drop_all(self, slots: range) -> None:
        for s in slots:
            self.ok("img_drop", self.u32("h", s))

    def ops(self) -> dict[str, float]:
        h7 = self.handle(7)
        res: dict[str, float] = {}
        res["create 320x240 rgb888 (copy in)"] = self.timed(
            lambda: None,
            "img_create",
            lambda: (self.w, self.h, RGB, self.buf["rgb"], self.w * self.h * 3, h7),
        )
        self.create(RGB, 0)
        self.create(GRAY, 1)
        self.ok(
            "img_crop", self.u32("h", 0), self.x0, 0, self.side, self.side, self.handle(2)
        )  # rgb square
        self.ok(
            "img_crop", self.u32("h", 1), self.x0, 0, self.side, self.side, self.handle(3)
        )  # gray square
        self.ok("img_convert", self.u32("h", 0), YUV, self.handle(4))
        self.ok("img_resize", self.u32("h", 3), 96, 96, 0, self.handle(5))  # gray 96x96
        self.ok("img_resize", self.u32("h", 2), 96, 96, 0, self.handle(6))  # rgb 96x96
        cases = [
            (
                "crop 240x240 (view)",
                "img_crop",
                lambda: (self.u32("h", 0), self.x0, 0, self.side, self.side, h7),
            ),
            (
                "resize 240->96 nearest rgb888",
                "img_resize",
                lambda: (self.u32("h", 2), 96, 96, 0, h7),
            ),
            (
                "resize 240->96 bilinear rgb888",
                "img_resize",
                lambda: (self.u32("h", 2), 96, 96, 1, h7),
            ),
            (
                "resize 240->96 bilinear gray8",
                "img_resize",
                lambda: (self.u32("h", 3), 96, 96, 1, h7),
            ),
            ("rotate 96x96 rgb888 90°", "img_rotate", lambda: (self.u32("h", 6), 1, h7)),
            ("convert 320x240 rgb888->gray8", "img_convert", lambda: (self.u32("h", 0), GRAY, h7)),
            ("convert 320x240 rgb888->yuv422", "img_convert", lambda: (self.u32("h", 0), YUV, h7)),
            ("convert 320x240 yuv422->rgb888", "img_convert", lambda: (self.u32("h", 4), RGB, h7)),
        ]
        for label, export, args in cases:
            res[label] = self.timed(lambda: None, export, args)
        out, n = self.buf["out"], self.buf["n"]
        res["read 96x96 rgb888 (27648 B out)"] = self.timed(
            lambda: None,
            "img_read",
            lambda: (self.u32("h", 6), out, self.w * self.h * 3, n),
            drop=False,
        )
        res["to_tensor 96x96 gray8 -> person_detect"] = self.timed(
            lambda: None, "img_to_tensor", lambda: (self.u32("h", 5), self.ctx, 0, 0), drop=False
        )
        self.drop_all(range(7))
        return res

    def ops_gray(self) -> dict[str, float]:
        """The gray8 ops an MCU frame path uses (frame -> crop -> resize -> tensor)."""
        h7 = self.handle(7)
        res: dict[str, float] = {}
        res[f"create {self.w}x{self.h} gray8 (copy in)"] = self.timed(
            lambda: None,
            "img_create",
            lambda: (self.w, self.h, GRAY, self.buf["gray"], self.w * self.h, h7),
        )
        self.create(GRAY, 1)
        self.ok("img_crop", self.u32("h", 1), self.x0, 0, self.side, self.side, self.handle(3))
        self.ok("img_resize", self.u32("h", 3), 96, 96, 0, self.handle(5))
        sq = f"{self.side}->96"
        cases = [
            ("crop (view)", "img_crop", lambda: (self.u32("h", 1), self.x0, 0, 8, 8, h7)),
            (f"resize {sq} nearest gray8", "img_resize", lambda: (self.u32("h", 3), 96, 96, 0, h7)),
            (
                f"resize {sq} bilinear gray8",
                "img_resize",
                lambda: (self.u32("h", 3), 96, 96, 1, h7),
            ),
            ("rotate 96x96 gray8 90°", "img_rotate", lambda: (self.u32("h", 5), 1, h7)),
            ("convert 96x96 gray8->rgb888", "img_convert", lambda: (self.u32("h", 5), RGB, h7)),
        ]
        for label, export, args in cases:
            res[label] = self.timed(lambda: None, export, args)
        res["to_tensor 96x96 gray8 -> person_detect"] = self.timed(
            lambda: None, "img_to_tensor", lambda: (self.u32("h", 5), self.ctx, 0, 0), drop=False
        )
        self.ok("img_drop", self.u32("h", 1))
        self.ok("img_drop", self.u32("h", 3))
        self.ok("img_drop", self.u32("h", 5))
        return res

    def per_frame(self) -> dict[str, float]:
        """Elapsed µs per frame of the two guest-visible ways (sum of their calls' medians)."""
        copy = self.timed(
            lambda: None,
            "copy_pipeline",
            lambda: (self.buf["gray"], self.w, self.x0, 0, self.side, self.ctx, self.buf["tensor"]),
            drop=False,
        )
        chain = []
        for _ in range(self.repeat):
            t = self.ok(
                "img_create",
                self.w,
                self.h,
                GRAY,
                self.buf["gray"],
                self.w * self.h,
                self.handle(0),
            )
            t += self.ok(
                "img_crop", self.u32("h", 0), self.x0, 0, self.side, self.side, self.handle(1)
            )
            t += self.ok("img_resize", self.u32("h", 1), 96, 96, 0, self.handle(2))
            t += self.ok("img_to_tensor", self.u32("h", 2), self.ctx, 0, 0)
            for s in range(3):
                t += self.ok("img_drop", self.u32("h", s))
            chain.append(t)
        writes = []
        for _ in range(self.repeat):
            start = time.perf_counter_ns()
            self.dut.write_memory(self.iid, self.buf["gray"], self.gray.tobytes())
            writes.append((time.perf_counter_ns() - start) / 1000)
        return {
            "copy": copy,
            "handles": statistics.median(chain),
            "frame write": statistics.median(writes),
        }

    def same_tensor(self) -> bool:
        """Both ways give the same input (checked through the model's output)."""
        outputs = []
        for way in ("copy", "handles"):
            if way == "copy":
                self.ok(
                    "copy_pipeline",
                    self.buf["gray"],
                    self.w,
                    self.x0,
                    0,
                    self.side,
                    self.ctx,
                    self.buf["tensor"],
                )
            else:
                self.create(GRAY, 0)
                self.ok(
                    "img_crop", self.u32("h", 0), self.x0, 0, self.side, self.side, self.handle(1)
                )
                self.ok("img_resize", self.u32("h", 1), 96, 96, 0, self.handle(2))
                self.ok("img_to_tensor", self.u32("h", 2), self.ctx, 0, 0)
                self.drop_all(range(3))
            self.ok("nn_compute", self.ctx)
            self.ok("nn_get_output", self.ctx, 0, self.buf["out"], 16, self.buf["n"])
            outputs.append(self.dut.read_memory(self.iid, self.buf["out"], 2))
        return outputs[0] == outputs[1]


def native_frame_us(dut: HostDut, iid: int, bench: Bench) -> float:
    """Pi host: the frame handed over natively (put_frame), then the same handle chain."""
    images = dut.instance(iid).images
    times = []
    for _ in range(bench.repeat):
        handle = images.put_frame(bench.gray, GRAY)
        t = bench.ok("img_crop", handle, bench.x0, 0, bench.side, bench.side, bench.handle(1))
        t += bench.ok("img_resize", bench.u32("h", 1), 96, 96, 0, bench.handle(2))
        t += bench.ok("img_to_tensor", bench.u32("h", 2), bench.ctx, 0, 0)
        for h in (handle, bench.u32("h", 1), bench.u32("h", 2)):
            t += bench.ok("img_drop", h)
        times.append(t)
    return statistics.median(times)


def qemu_instructions(repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """qemu-rv32 with -icount shift=0: virtual time advances 1 ns per instruction and the
    device reports elapsed µs from it, so instructions = elapsed_us * 1000 (see bench_qemu.py).
    A 160x120 gray8 frame: the instance's 128 KiB of linear memory holds no 320x240 one."""
    from build_tools.firmware.cmake import CMakeBuilder

    target = load_target("qemu-rv32")
    elf = CMakeBuilder().build(target).binary
    wasm = target_guests(target)["image_probe"]
    with open_device(target, {"firmware": elf, "build": False, "icount_shift": 0}) as dut:
        bench = Bench(dut, wasm, max(3, repeat // 4), w=160, h=120, rgb=False)
        ops = bench.ops_gray()
        frame = bench.per_frame()
    frame.pop("frame write")
    return ops, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repeat", type=int, default=31)
    parser.add_argument(
        "--qemu", action="store_true", help="also instructions per op on qemu-rv32 (icount)"
    )
    args = parser.parse_args()
    repeat = args.repeat
    results: dict[str, dict[str, float]] = {}
    frames: dict[str, dict[str, float]] = {}
    same: dict[str, bool] = {}
    for name in ("host", "posix"):
        target = load_target(name)
        wasm = target_guests(target)["image_probe"]
        with open_device(target, {}) as dut:
            bench = Bench(dut, wasm, repeat)
            results[name] = bench.ops()
            frames[name] = bench.per_frame()
            same[name] = bench.same_tensor()
            if isinstance(dut, HostDut):
                frames[name]["native frame"] = native_frame_us(dut, bench.iid, bench)

    print(f"## Bytes per frame ({W}x{H} gray8 frame -> 96x96 int8 person_detect input)\n")
    print(
        "| way | into linear memory | copied by the runtime out of linear memory | "
        "written natively (not via linear memory) | guest buffers needed |"
    )
    print("|---|---:|---:|---:|---:|")
    frame = W * H
    print(
        f"| copy (frame in, wasm crop+resize, set_input) | {frame} | {TENSOR} (set_input) | 0 "
        f"| {frame + TENSOR} |"
    )
    print(
        f"| handles (frame in, create, view, native resize, to_tensor) | {frame} | {frame} "
        f"(create) | {TENSOR} (resize) + {TENSOR} (to_tensor) | {frame} |"
    )
    print(
        f"| native frame (put_frame, Pi host) | 0 | 0 | {frame} (frame) + {TENSOR} + {TENSOR} | 0 |"
    )

    print(f"\n## Time per op, median of {repeat} calls (µs)\n")
    print("| op | host (wasmtime + numpy) | posix (wasm2c + C) | host / posix |")
    print("|---|---:|---:|---:|")
    for op, host_us in results["host"].items():
        posix_us = results["posix"][op]
        ratio = f"{host_us / posix_us:.1f}" if posix_us else "-"
        print(f"| {op} | {host_us:.0f} | {posix_us:.0f} | {ratio} |")

    print(f"\n## Time per frame, median of {repeat} frames (µs, frame write excluded)\n")
    print("| way | host | posix |")
    print("|---|---:|---:|")
    for way in ("copy", "handles", "native frame"):
        p = frames["posix"].get(way)
        print(f"| {way} | {frames['host'][way]:.0f} | {f'{p:.0f}' if p is not None else 'n/a'} |")
    print(
        f"| frame write into linear memory, {frame} B (copy and handles; host: a numpy copy, "
        f"posix: the device protocol over a pipe, not a camera path) | "
        f"{frames['host']['frame write']:.0f} | {frames['posix']['frame write']:.0f} |"
    )
    if args.qemu:
        ops, per = qemu_instructions(repeat)
        print("\n## qemu-rv32 (-icount shift=0), 160x120 gray8 frame: instructions per op\n")
        print("| op | instructions | est. ESP32-C3 @160 MHz, CPI 1 (µs) |")
        print("|---|---:|---:|")
        for op, us in [*ops.items(), *((f"per frame: {k}", v) for k, v in per.items())]:
            print(f"| {op} | {us * 1000:.0f} | {us * 1000 / C3_HZ * 1e6:.0f} |")
    print(
        "\nSame model output from both ways: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items())
    )


if __name__ == "__main__":
    main()
