"""Host benchmark: per model, one inference through guest -> wasi-nn -> backend against the same
backend context called directly from Python on the same input, interleaved in one run.

The guest runs twice per round: on the default call path (raw ctypes, runtime_py/edge_runtime/host/fastcall.py,
when available) and on wasmtime-py's public call API, so both are measured under the same load.
An empty export call (`score`) on each path isolates the fixed cost of one guest call."""

from __future__ import annotations

import logging
import statistics
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from edge_runtime.host.runtime import HostInstance, HostRuntime

from .conformance.inputs import synthetic_int8

log = logging.getLogger(__name__)

BENCH_MODELS = (
    "vww_96_int8",
    "kws_ref_model",
    "pretrainedResnet_quant",
    "ad01_int8",
    "person_detect",
)


@dataclass(frozen=True)
class ModelBench:
    model: str
    backend: str
    iterations: int
    guest_us: float  # median per inference through the guest
    direct_us: float  # median per inference, backend called from Python
    ratio: float
    overhead_us: float
    path: str  # call path of guest_us: "fast" or "public"
    public_us: float  # median per inference through the guest on the public wasmtime-py API
    public_overhead_us: float
    call_us: float  # median of an empty export call on the default path
    public_call_us: float  # the same on the public API


@dataclass(frozen=True)
class ModuleBench:
    module: str
    compile_ms: float
    instantiate_ms: float


def _write(inst: HostInstance, data: bytes) -> int:
    addr = inst.call("alloc", [len(data)]).value
    mem = inst.memory_view(inst.store)
    if not addr or mem is None:
        raise RuntimeError("guest alloc failed")
    mem.write(addr, data)
    return addr


def bench_model(
    runtime: HostRuntime, classify_wasm: bytes, model: str, iterations: int
) -> ModelBench:
    loaded = runtime.loader.load_named(model, None)
    info = loaded.graph.inputs[0]
    x = synthetic_int8(info.size, 1)
    inst = runtime.instantiate("classify", classify_wasm)
    public = runtime.instantiate("classify", classify_wasm, fast=False)
    name = model.encode()

    def classify_args(i: HostInstance) -> list[int]:
        return [
            _write(i, name),
            len(name),
            _write(i, struct.pack(f"<{len(info.shape)}I", *info.shape)),
            len(info.shape),
            _write(i, x.tobytes()),
            info.size,
        ]

    args, public_args = classify_args(inst), classify_args(public)
    direct = loaded.graph.new_context()
    value = x.view(info.dtype).reshape(info.shape)

    def direct_once() -> None:
        direct.set_input(0, value)
        direct.invoke()
        direct.get_output(0)

    for i, a in ((inst, args), (public, public_args)):
        first = i.call("classify", a)  # loads the model and creates the context
        if first.status != "ok" or (first.value or 0) < 0:
            raise RuntimeError(f"classify {model}: {first.status} {first.value} {first.message}")
    direct_once()
    rounds: list[Callable[[], object]] = [
        lambda: inst.call("classify", args),
        lambda: public.call("classify", public_args),
        direct_once,
        lambda: inst.call("score", []),
        lambda: public.call("score", []),
    ]
    times: list[list[float]] = [[] for _ in rounds]
    for _ in range(iterations):
        for run, t in zip(rounds, times, strict=True):
            t0 = time.perf_counter_ns()
            run()
            t.append((time.perf_counter_ns() - t0) / 1000)
    g, p, d, c, pc = (statistics.median(t) for t in times)
    return ModelBench(
        model,
        loaded.backend,
        iterations,
        round(g, 1),
        round(d, 1),
        round(g / d, 3),
        round(g - d, 1),
        "fast" if inst.fast else "public",
        round(p, 1),
        round(p - d, 1),
        round(c, 1),
        round(pc, 1),
    )


def bench_module(runtime: HostRuntime, name: str, wasm: bytes) -> ModuleBench:
    import wasmtime

    t0 = time.perf_counter()
    module = wasmtime.Module(runtime.engine, wasm)  # uncached compile
    t1 = time.perf_counter()
    HostInstance(runtime, name, module)
    t2 = time.perf_counter()
    return ModuleBench(name, round((t1 - t0) * 1000, 2), round((t2 - t1) * 1000, 2))


def run_bench(
    runtime: HostRuntime, guests: dict[str, bytes], models: tuple[str, ...], iterations: int
) -> dict[str, object]:
    results = []
    for model in models:
        if runtime.loader.registry.get(model) is None:
            log.warning("bench: model %s not found, skipped", model)
            continue
        # Slow backends (TFLM reference kernels) get fewer rounds for the same wall time.
        results.append(asdict(bench_model(runtime, guests["classify"], model, iterations)))
    modules = [asdict(bench_module(runtime, n, w)) for n, w in guests.items()]
    return {"models": results, "modules": modules, "numpy": np.__version__}
