"""Frame ingress for the plate reader on the C runtime: the PGM written into guest memory with
MEM_WRITE (read_plate) vs the pixels streamed as an image handle with FRAME_BEGIN/CHUNK/END
(read_plate_image), side by side in one run on posix and qemu-rv32 (docs/protocol.md).

    .venv/bin/python tests/bench/bench_frames.py [-n PLATES] [--repeat R] [--targets posix,qemu-rv32]

Per plate: protocol bytes host->device and device->host (whole frames on the wire, COBS and
CRC included, as DeviceClient counts them), wall time per plate end to end (transfer + the
read_plate call + reading the string and the stage times back; best of R runs) and the time
spent handing the frame over alone (median over the plates).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from build_tools.devices.base import open_device
from build_tools.guests import build_guests
from build_tools.plates import reader, synth
from build_tools.targets import load_target


def transfer_s(dut, iid: int, plates: list[synth.Plate], frames: bool) -> float:  # type: ignore[no-untyped-def]
    """Median time to hand one frame over (a handle is then consumed by read_plate_image,
    outside the timed part)."""
    times = []
    buf = 0 if frames else dut.call(iid, "alloc", [max(len(p.pgm) for p in plates)]).value
    for p in plates:
        t0 = time.perf_counter()
        if frames:
            w, h, px = reader.pgm_pixels(p.pgm)
            image = dut.put_frame(iid, w, h, "gray8", px)
            times.append(time.perf_counter() - t0)
            dut.call(iid, "read_plate_image", [image])  # drops the handle
        else:
            dut.write_memory(iid, buf, p.pgm)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="plates (10)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration (2)")
    ap.add_argument("--targets", default="posix,qemu-rv32")
    args = ap.parse_args()
    plates = synth.plate_set(args.n)
    frame_bytes = len(reader.pgm_pixels(plates[0].pgm)[2])
    print(f"{args.n} plates, {frame_bytes}-byte gray8 frames; best of {args.repeat}")
    print(
        f"{'target':<11}{'way':<11}{'out B/plate':>12}{'in B/plate':>11}"
        f"{'ms/plate':>10}{'xfer ms':>9}{'texts':>7}"
    )
    for name in args.targets.split(","):
        target = load_target(name)
        built = build_guests(target)
        wasm = next(
            (built.directory / g.path).read_bytes() for g in built.guests if g.name == "plates"
        )
        rows = {}
        with open_device(target) as dut:
            client = dut.client  # type: ignore[attr-defined]
            for frames in (False, True):
                runs = []
                for _ in range(args.repeat):
                    out0, in0 = client.wire_bytes_out, client.wire_bytes_in
                    r = reader.run_reactor(dut, wasm, plates, frames=frames)
                    runs.append(
                        (r.seconds, client.wire_bytes_out - out0, client.wire_bytes_in - in0, r)
                    )
                best = min(runs, key=lambda x: x[0])
                iid = dut.instantiate("plates", wasm)
                xfer = transfer_s(dut, iid, plates, frames)
                dut.drop(iid)
                rows[frames] = (best, xfer)
                seconds, out_b, in_b, r = best
                way = "handle" if frames else "MEM_WRITE"
                print(
                    f"{name:<11}{way:<11}{out_b / args.n:12.0f}{in_b / args.n:11.0f}"
                    f"{1000 * seconds / args.n:10.2f}{1000 * xfer:9.2f}"
                    f"{100 * r.accuracy(plates):6.0f}%"
                )
        (s0, o0, _, r0), x0 = rows[False]
        (s1, o1, _, r1), x1 = rows[True]
        same = "same strings" if r0.texts == r1.texts else "DIFFERENT strings"
        print(
            f"{name:<11}handle/MEM_WRITE: bytes out {o1 / o0:.3f}, time per plate {s1 / s0:.3f}, "
            f"transfer {x1 / x0:.3f}; {same}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
