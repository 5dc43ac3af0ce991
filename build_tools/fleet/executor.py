"""What the agent runs a deployment with: `apply(manifest, modules)`, `status()`, `call()`,
`stop()`. One executor object per deployment, so the agent can build the next one while the
current one keeps running and swap only once the new one is instantiated.

`HostExecutor` instantiates every instance on the wasmtime host (imports checked, `_initialize`
run) and serves calls to exports (the RPC path); per-instance counters feed the telemetry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..host.models import ModelRegistry
from ..host.runtime import GuestError, HostInstance, HostLimits, HostRuntime
from .manifest import Manifest


class ExecutorError(Exception):
    """A deployment could not be applied (names the instance and the reason)."""


@dataclass
class InstanceStats:
    calls: int = 0
    errors: int = 0
    total_us: int = 0
    max_us: int = 0

    def record(self, elapsed_us: int, ok: bool) -> None:
        self.calls += 1
        self.errors += 0 if ok else 1
        self.total_us += elapsed_us
        self.max_us = max(self.max_us, elapsed_us)


@dataclass(frozen=True)
class RuntimeSettings:
    backend: str = "litert"
    memory_kib: int = 65536
    timeout_ms: int = 10000
    max_graphs: int = 16
    max_contexts: int = 16
    models_dir: Path | None = None


class Executor(Protocol):
    def apply(self, manifest: Manifest, modules: dict[str, Path]) -> None: ...
    def status(self) -> dict[str, dict[str, Any]]: ...
    def call(self, instance: str, export: str, args: list[int]) -> dict[str, Any]: ...
    def telemetry(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...


@dataclass
class _Running:
    module_id: str
    instance: HostInstance
    stats: InstanceStats = field(default_factory=InstanceStats)


class HostExecutor:
    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._runtime: HostRuntime | None = None
        self._instances: dict[str, _Running] = {}

    def apply(self, manifest: Manifest, modules: dict[str, Path]) -> None:
        s = self.settings
        registry = ModelRegistry.from_directory(s.models_dir) if s.models_dir else ModelRegistry()
        limits = HostLimits(
            memory_bytes=s.memory_kib * 1024,
            timeout_ms=s.timeout_ms,
            max_graphs=s.max_graphs,
            max_contexts=s.max_contexts,
        )
        self._runtime = HostRuntime(registry, s.backend, limits)
        for name, spec in manifest.instances.items():
            wasm = modules[spec.module_id].read_bytes()
            try:
                inst = self._runtime.instantiate(name, wasm)
            except GuestError as e:
                raise ExecutorError(f"instance {name}: {e}") from e
            failed = inst.ensure_initialized()
            if failed is not None:
                raise ExecutorError(f"instance {name}: _initialize failed: {failed.message}")
            self._instances[name] = _Running(spec.module_id, inst)

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"status": "ok", "moduleId": r.module_id} for name, r in self._instances.items()
        }

    def call(self, instance: str, export: str, args: list[int]) -> dict[str, Any]:
        running = self._instances.get(instance)
        if running is None:
            return {"status": "error", "message": f"no instance {instance!r}"}
        with self._lock:
            r = running.instance.call(export, args)
        running.stats.record(r.elapsed_us, r.status == "ok")
        out: dict[str, Any] = {"status": r.status, "elapsed_us": r.elapsed_us}
        if r.status == "ok":
            out["value"] = r.value
        else:
            out["message"] = r.message
        return out

    def telemetry(self) -> dict[str, Any]:
        """EVP telemetry entries `<instance>/<key>`: calls, errors, latency, memory."""
        out: dict[str, Any] = {}
        for name, r in self._instances.items():
            st = r.stats
            mem = r.instance.memory_view(r.instance.store)
            out[f"{name}/calls"] = st.calls
            out[f"{name}/errors"] = st.errors
            out[f"{name}/latency_us"] = {
                "mean": st.total_us // st.calls if st.calls else 0,
                "max": st.max_us,
            }
            out[f"{name}/memory_bytes"] = mem.size if mem is not None else 0
        return out

    def stop(self) -> None:
        self._instances.clear()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None
