"""What the agent runs a deployment with: `apply(deployment, modules)`, `status()`, `call()`,
`telemetry()`, `stop()`. One executor object per deployment, so the agent can build the next one
while the current one keeps running and swap only once the new one is up.

- `PipelineExecutor` (`pipeline`, the default): the project's pipeline executor
  (runtime_py/edge_runtime/host/pipeline.py, docs/pipeline.md) runs EVP modules as a dataflow; their
  telemetry and state reports go to the agent's event sink (and so to the broker).
- `HostExecutor` (`exports`): reactor modules instantiated on the wasmtime host whose exports
  are called by direct command; per-instance counters feed the telemetry.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..deployment import Deployment, DeploymentError
from ..host.models import ModelRegistry
from ..host.pipeline import Pipeline, PipelineEvent
from ..host.runtime import GuestError, HostInstance, HostLimits, HostRuntime

# (kind, instance, data): what a running deployment reports (telemetry, state, failures).
EventSink = Callable[[str, str, Any], None]
START_TIMEOUT_S = 10.0


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

    def call_result(self, r: Any) -> dict[str, Any]:
        """Records a call outcome (status, elapsed_us, value, message) and returns it as JSON."""
        self.record(r.elapsed_us, r.status == "ok")
        out: dict[str, Any] = {"status": r.status, "elapsed_us": r.elapsed_us}
        if r.status == "ok":
            out["value"] = r.value
        else:
            out["message"] = r.message
        return out

    def telemetry(self, name: str) -> dict[str, Any]:
        """EVP telemetry entries `<name>/calls`, `/errors`, `/latency_us`."""
        return {
            f"{name}/calls": self.calls,
            f"{name}/errors": self.errors,
            f"{name}/latency_us": {
                "mean": self.total_us // self.calls if self.calls else 0,
                "max": self.max_us,
            },
        }


@dataclass(frozen=True)
class RuntimeSettings:
    backend: str = "litert"
    memory_kib: int = 65536
    timeout_ms: int = 10000
    max_graphs: int = 16
    max_contexts: int = 16
    models_dir: Path | None = None
    executor: str = "pipeline"  # a key of EXECUTORS
    target: str = "host"  # where instances placed with x-build-tools target must say they run


def host_runtime(s: RuntimeSettings) -> HostRuntime:
    registry = ModelRegistry.from_directory(s.models_dir) if s.models_dir else ModelRegistry()
    limits = HostLimits(
        memory_bytes=s.memory_kib * 1024,
        timeout_ms=s.timeout_ms,
        max_graphs=s.max_graphs,
        max_contexts=s.max_contexts,
    )
    return HostRuntime(registry, s.backend, limits)


class Executor(Protocol):
    def apply(self, manifest: Deployment, modules: dict[str, Path]) -> None: ...
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
    def __init__(self, settings: RuntimeSettings, events: EventSink | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._runtime: HostRuntime | None = None
        self._instances: dict[str, _Running] = {}

    def apply(self, manifest: Deployment, modules: dict[str, Path]) -> None:
        self._runtime = host_runtime(self.settings)
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
        return running.stats.call_result(r)

    def telemetry(self) -> dict[str, Any]:
        """EVP telemetry entries `<instance>/<key>`: calls, errors, latency, memory."""
        out: dict[str, Any] = {}
        for name, r in self._instances.items():
            mem = r.instance.memory_view(r.instance.store)
            out.update(r.stats.telemetry(name))
            out[f"{name}/memory_bytes"] = mem.size if mem is not None else 0
        return out

    def stop(self) -> None:
        self._instances.clear()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


class PipelineExecutor:
    def __init__(self, settings: RuntimeSettings, events: EventSink | None = None) -> None:
        self.settings = settings
        self.events = events
        self._runtime: HostRuntime | None = None
        self.pipeline: Pipeline | None = None

    def apply(self, manifest: Deployment, modules: dict[str, Path]) -> None:
        """Starts the pipeline on the verified local copies of the modules, and returns once
        every instance is up (or raises naming the first that is not)."""
        local = dataclasses.replace(
            manifest,
            modules={
                mid: dataclasses.replace(spec, download_url=modules[mid].resolve().as_uri())
                if mid in modules
                else spec
                for mid, spec in manifest.modules.items()
            },
        )
        self._runtime = host_runtime(self.settings)
        self.pipeline = Pipeline(local, self._runtime, self.settings.target, self._on_event)
        try:
            self.pipeline.start()
        except (DeploymentError, GuestError) as e:
            raise ExecutorError(str(e)) from e
        p = self.pipeline
        # "unknown" = still starting (an instance's first instantiation runs on its thread).
        p.wait_until(
            lambda: all(st["status"] != "unknown" for st in p.status()["instances"].values()),
            START_TIMEOUT_S,
        )
        for name, st in p.status()["instances"].items():
            if st["status"] == "error":
                raise ExecutorError(f"instance {name}: {st.get('failureMessage', 'failed')}")

    def _on_event(self, event: PipelineEvent) -> None:
        if self.events is not None:
            self.events(event.kind, event.instance, event.data)

    def status(self) -> dict[str, dict[str, Any]]:
        return dict(self.pipeline.status()["instances"]) if self.pipeline else {}

    def call(self, instance: str, export: str, args: list[int]) -> dict[str, Any]:
        return {
            "status": "error",
            "message": "direct commands to EVP instances are not supported yet (RPC callback)",
        }

    def telemetry(self) -> dict[str, Any]:
        if self.pipeline is None:
            return {}
        return {
            f"{name}/{key}": value
            for name, counters in self.pipeline.stats().items()
            for key, value in counters.items()
        }

    def stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


EXECUTORS: dict[str, Callable[[RuntimeSettings, EventSink | None], Executor]] = {
    "pipeline": PipelineExecutor,
    "exports": HostExecutor,
}
