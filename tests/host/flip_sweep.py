"""Byte-flip sweep of the host's wasi-nn model path: flip one byte of a model (`^= 0xFF`), then
load, init, set_input, compute and get_output through `WasiNn` on one backend, and record what
each call returned.

The model path may crash the whole process (that is what the sweep looks for), so the flips run
in a worker subprocess; when the worker dies, the parent records the offset as a crash and starts
a new worker after it. Used by tests/host/test_model_hardening.py (a bounded sweep) and by hand
for longer runs:

    python -m tests.host.flip_sweep --stride 16 --backend tflm hello_world_int8
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from edge_runtime.host.memory import GuestMemory
    from edge_runtime.host.wasi_nn import WasiNn

MEMORY_BYTES = 4 << 20
# Guest-memory layout of one flip: builder, out-pointers, dims, tensor struct, input, output.
BUILDER_AT, GRAPH_AT, CTX_AT, WRITTEN_AT = 0, 64, 68, 72
DIMS_AT, TENSOR_AT, INPUT_AT, OUTPUT_AT = 128, 192, 256, 1 << 20
# numpy dtype -> wasi-nn type; others get f32 (1), which set_input must refuse cleanly
_TYPES = {"<f2": 0, "<f4": 1, "<f8": 2, "|u1": 3, "|i1": 3, "<i4": 4, "<i8": 5}


NONDETERMINISTIC = -2  # two contexts of one graph gave different outputs for the same input


def _run_flip(nn: object, mem: object, model: bytes) -> list[tuple[str, int]]:
    """load -> init -> set_input (zeros, raw path) -> compute -> get_output, then the same on a
    second context, whose outputs must be the same bytes (a model that makes a backend read
    outside its buffers shows up here). Returns (step, code) of the calls made (stops at the
    first failure), ("compare", NONDETERMINISTIC) last when the outputs differ."""
    from edge_runtime.host.memory import GuestMemory
    from edge_runtime.host.wasi_nn import ENCODING_TFLITE, WasiNn

    assert isinstance(nn, WasiNn) and isinstance(mem, GuestMemory)
    model_at = 2 << 20
    mem.write(model_at, model)
    mem.write(BUILDER_AT, np.array([model_at, len(model)], "<u4"))
    codes = [("load", nn.load(mem, BUILDER_AT, 1, ENCODING_TFLITE, 0, GRAPH_AT))]
    if codes[-1][1]:
        return codes
    first = _infer(nn, mem, codes)
    if first is None:
        return codes
    again = _infer(nn, mem, codes)
    if again is not None and again != first:
        codes.append(("compare", NONDETERMINISTIC))
    return codes


def _infer(nn: WasiNn, mem: GuestMemory, codes: list[tuple[str, int]]) -> list[bytes] | None:
    """One context: init, every input zeros, compute, every output (None on a failure)."""
    codes.append(("init", nn.init_execution_context(mem, mem.u32(GRAPH_AT), CTX_AT)))
    if codes[-1][1]:
        return None
    ctx = mem.u32(CTX_AT)
    entry = nn.contexts[ctx]
    for i, plan in enumerate(entry.plans):
        info = plan.info
        # the raw path for quantized 8-bit tensors (docs/abi.md), else the dtype's own type
        ttype = 3 if info.quantized else _TYPES.get(info.dtype.str, 1)
        nbytes = plan.count * info.dtype.itemsize
        if nbytes > OUTPUT_AT - INPUT_AT or len(plan.shape) > 60:
            codes.append(("skipped", -1))  # an input the sweep does not fill
            return None
        mem.write(DIMS_AT, plan.shape)
        mem.write(INPUT_AT, bytes(nbytes))
        mem.write(
            TENSOR_AT,
            np.array([DIMS_AT, len(plan.shape) // 4, ttype, INPUT_AT, nbytes], "<u4").tobytes(),
        )
        codes.append(("set_input", nn.set_input(mem, ctx, i, TENSOR_AT)))
        if codes[-1][1]:
            return None
    codes.append(("compute", nn.compute(mem, ctx)))
    if codes[-1][1]:
        return None
    outputs = []
    for i in range(len(entry.outputs)):
        codes.append(("get_output", nn.get_output(mem, ctx, i, OUTPUT_AT, 1 << 20, WRITTEN_AT)))
        if codes[-1][1]:
            return None
        outputs.append(mem.view(OUTPUT_AT, mem.u32(WRITTEN_AT)).tobytes())
    return outputs


def worker(backend: str, flips: list[tuple[str, int]]) -> None:
    """Prints one JSON line per (model path, offset): {"codes", "error"}, flushed before the
    next flip."""
    import logging

    import build_tools  # noqa: F401  (the checkout's libnnb builder for the builtin backend)
    from edge_runtime.host.loader import GraphLoader
    from edge_runtime.host.memory import GuestMemory
    from edge_runtime.host.models import ModelRegistry
    from edge_runtime.host.wasi_nn import WasiNn

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    models: dict[str, bytes] = {}
    for path, offset in flips:
        if path not in models:
            models[path] = Path(path).read_bytes()
        data = bytearray(models[path])
        data[offset] ^= 0xFF
        loader = GraphLoader(ModelRegistry(), backend, explicit=True)
        nn = WasiNn(loader, 4, 4)
        mem = GuestMemory(np.zeros(MEMORY_BYTES, np.uint8))
        codes = _run_flip(nn, mem, bytes(data))
        sys.stdout.write(json.dumps({"codes": codes, "error": nn.last_error[:200]}) + "\n")
        sys.stdout.flush()


@dataclass
class SweepResult:
    model: str
    backend: str
    flips: int = 0
    crashes: list[tuple[str, str]] = field(default_factory=list)  # (model@offset, how it died)
    internal: list[tuple[str, str]] = field(default_factory=list)  # host bugs ("internal error")
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        top = ", ".join(f"{k}: {v}" for k, v in self.outcomes.most_common(6))
        return (
            f"{self.model} on {self.backend}: {self.flips} flips in {self.seconds:.1f} s, "
            f"{len(self.crashes)} crashes, {len(self.internal)} internal errors ({top})"
        )


def _outcome(codes: list[list[Any]]) -> str:
    """ "ok", "nondeterministic", or "STEP=CODE" of the failing call."""
    step, code = codes[-1]
    if code == 0:
        return "ok"
    if code == NONDETERMINISTIC:
        return "nondeterministic"
    return f"{step}={code}"


def sweep(
    label: str, backend: str, flips: list[tuple[Path, int]], timeout_s: float = 600
) -> SweepResult:
    """Runs `flips` (model file, offset) on `backend` in worker processes, one after the other;
    a worker that dies is recorded as a crash at its current flip and replaced."""
    result = SweepResult(label, backend)
    start = time.monotonic()
    todo = [(str(path), offset) for path, offset in flips]
    while todo:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.host.flip_sweep", "--worker", backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(todo))
        proc.stdin.close()
        done = 0
        try:
            for line in proc.stdout:
                rec = json.loads(line)
                where = f"{Path(todo[done][0]).stem}@{todo[done][1]}"
                done += 1
                result.flips += 1
                result.outcomes[_outcome(rec["codes"])] += 1
                if "internal error" in rec["error"]:
                    result.internal.append((where, rec["error"]))
                if time.monotonic() - start > timeout_s:
                    break
        finally:
            proc.stdout.close()
            try:
                rc = proc.wait(timeout=max(1.0, timeout_s - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"sweep {label} on {backend}: over {timeout_s} s")
        if rc != 0 and done < len(todo):
            how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
            result.crashes.append((f"{Path(todo[done][0]).stem}@{todo[done][1]}", how))
            result.flips += 1
            result.outcomes["crash"] += 1
            done += 1
        elif rc != 0:
            result.crashes.append(("-", f"worker exit {rc} after the last flip"))
        todo = todo[done:]
    result.seconds = time.monotonic() - start
    return result


def structure_offsets(model: bytes, count: int, data_count: int) -> list[int]:
    """`count` offsets spread evenly over the bytes outside constant-buffer data (tables,
    vtables, offsets, shapes, quantization: where damage matters) plus `data_count` spread over
    the data."""
    from edge_runtime.host.tflite_check import _Verifier

    v = _Verifier(model)
    root = v.table(v.follow(0, "root"), "Model")
    in_data = np.zeros(len(model), bool)
    for b in root.get(4, []):
        if b.get(0) is not None:
            start, n = b.get(0)
            in_data[start : start + n] = True
    structure = np.flatnonzero(~in_data)
    data = np.flatnonzero(in_data)
    picks = [structure[np.linspace(0, len(structure) - 1, min(count, len(structure))).astype(int)]]
    if len(data) and data_count:
        picks.append(data[np.linspace(0, len(data) - 1, min(data_count, len(data))).astype(int)])
    return sorted({int(i) for p in picks for i in p})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", metavar="BACKEND", help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, default=16, help="flip every Nth byte")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--backend", action="append", default=[])
    parser.add_argument("models", nargs="*", help="shared model names (default: all)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, json.loads(sys.stdin.read()))
        return 0
    from build_tools.paths import shared_root

    models_dir = shared_root() / "models"
    names = args.models or sorted(p.stem for p in models_dir.glob("*.tflite"))
    bad = 0
    for backend in args.backend or ["builtin", "tflm", "litert"]:
        for name in names:
            path = models_dir / f"{name}.tflite"
            size = path.stat().st_size
            offsets = range(args.start, size, args.stride)
            r = sweep(name, backend, [(path, o) for o in offsets], timeout_s=1e9)
            print(r.summary(), flush=True)
            for off, how in r.crashes[:20]:
                print(f"  crash at {off}: {how}")
            for off, err in r.internal[:20]:
                print(f"  internal error at {off}: {err}")
            bad += len(r.crashes) + len(r.internal)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
