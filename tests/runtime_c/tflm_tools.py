"""The posix runtime with the tflm backend, and its `nn_compare` tool (both backends in one
process): building them, running a model through both, and the flip sweep.

    .venv/bin/python -m tests.runtime_c.tflm_tools sweep [--sanitize] [--budget 30]

runs the flip sweep over every shared model (plain, or under ASan + UBSan) and prints the counts.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.paths import shared_root
from build_tools.targets import Target, load_target, with_runtime

MODELS = [
    "vww_96_int8",
    "kws_ref_model",
    "pretrainedResnet_quant",
    "ad01_int8",
    "person_detect",
    "micro_speech_quantized",
    "hello_world_int8",
]


def tflm_target(name: str = "posix") -> Target:
    """A C target with its NN backend switched to tflm (same engine, platform, limits)."""
    return with_runtime(load_target(name), nn_backend="tflm")


def build(sanitize: bool = False) -> RuntimeImage:
    return CMakeBuilder().build(tflm_target(), sanitize=sanitize)


def nn_compare(runtime: RuntimeImage) -> Path:
    return runtime.build_dir / "nn_compare"


def model_path(name: str) -> Path:
    return shared_root() / "models" / f"{name}.tflite"


def run_both(
    tool: Path, model: Path, inputs: bytes, work: Path, repeat: int = 1
) -> tuple[dict[str, Any], bytes, bytes]:
    """Both backends on the same inputs: (report, builtin outputs, tflm outputs)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "in.bin").write_bytes(inputs)
    out_b, out_t = work / "out_builtin.bin", work / "out_tflm.bin"
    for p in (out_b, out_t):
        p.unlink(missing_ok=True)
    argv = [str(tool), "run", str(model), str(work / "in.bin"), str(out_b), str(out_t)]
    proc = subprocess.run([*argv, str(repeat)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"nn_compare exited {proc.returncode}: {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    read = lambda p: p.read_bytes() if p.exists() else b""  # noqa: E731
    return report, read(out_b), read(out_t)


def _u32(b: bytes, pos: int) -> int:
    return int(struct.unpack_from("<I", b, pos)[0])


def _field(b: bytes, table: int, field_id: int) -> int | None:
    vtable = table - struct.unpack_from("<i", b, table)[0]
    if 4 + 2 * field_id + 2 > struct.unpack_from("<H", b, vtable)[0]:
        return None
    off = struct.unpack_from("<H", b, vtable + 4 + 2 * field_id)[0]
    return table + off if off else None


def data_ranges(model: bytes) -> list[tuple[int, int]]:
    """[start, end) of every buffer's data (weights) in a valid TFLite model."""
    ranges = []
    buffers = _field(model, _u32(model, 0), 4)  # Model.buffers
    if buffers is None:
        return []
    start = buffers + _u32(model, buffers)
    for i in range(_u32(model, start)):
        entry = start + 4 + 4 * i
        table = entry + _u32(model, entry)
        data = _field(model, table, 0)  # Buffer.data
        if data is not None:
            vec = data + _u32(model, data)
            ranges.append((vec + 4, vec + 4 + _u32(model, vec)))
    return sorted(ranges)


def _odd_step(size: int, count: int) -> int:
    step = max(1, -(-size // max(count, 1)))
    return step if step % 2 else step + 1  # odd: the positions cycle through every alignment


def sweep_positions(model: bytes, structure_flips: int, data_flips: int) -> list[int]:
    """Every Nth byte of the flatbuffer structure (everything but weight data) for about
    `structure_flips` flips, and every Mth byte of the weight data for about `data_flips`."""
    in_data = bytearray(len(model))
    for a, b in data_ranges(model):
        in_data[a:b] = b"\x01" * (b - a)
    structure = [i for i in range(len(model)) if not in_data[i]]
    data = [i for i in range(len(model)) if in_data[i]]
    n, m = _odd_step(len(structure), structure_flips), _odd_step(len(data), data_flips)
    return sorted(structure[::n] + data[::m])


def sweep(
    tool: Path, model: Path, work: Path, flips: tuple[int, int], timeout: float
) -> dict[str, Any]:
    """Flips bytes of `model` one at a time through the tflm backend (see sweep_positions)."""
    positions = sweep_positions(model.read_bytes(), *flips)
    work.mkdir(parents=True, exist_ok=True)
    listing = work / f"{model.stem}.positions"
    listing.write_text("".join(f"{p}\n" for p in positions))
    proc = subprocess.run(
        [str(tool), "sweep", str(model), str(listing)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result: dict[str, Any] = {"returncode": proc.returncode, "stderr": proc.stderr}
    if proc.returncode == 0:
        result.update(json.loads(proc.stdout))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["sweep"])
    parser.add_argument("--sanitize", action="store_true", help="ASan + UBSan build")
    parser.add_argument("--flips", type=int, default=300, help="structure flips per model")
    parser.add_argument("--data-flips", type=int, default=60, help="weight flips per model")
    args = parser.parse_args()
    tool = nn_compare(build(sanitize=args.sanitize))
    failed = 0
    for name in MODELS:
        t0 = time.monotonic()
        work = tool.parent / "sweep"
        r = sweep(tool, model_path(name), work, (args.flips, args.data_flips), timeout=3600)
        r.pop("stderr") if r["returncode"] == 0 else None
        failed += r["returncode"] != 0
        print(f"{name}: {json.dumps(r)} ({time.monotonic() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
