"""The `local` transport: the Python wasmtime host, in this process."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_runtime.errors import DeviceError
from edge_runtime.host.models import ModelRegistry
from edge_runtime.host.runtime import GuestError, HostInstance, HostLimits, HostRuntime

from ..paths import find_model
from ..targets import Target
from .base import CallOutcome, DeviceInfo, Dut, register_device

if TYPE_CHECKING:
    from edge_runtime.deployment import Deployment
    from edge_runtime.deployment.runner import DeploymentRun, EventSink

log = logging.getLogger(__name__)


def runtime_for(target: Target, options: dict[str, Any]) -> HostRuntime:
    """Options: backend (str), models (list of (name, Path)), models_dir (Path), argv (list of
    str: WASI arguments after argv[0]), env (list of (KEY, VALUE)),
    memory_kib / timeout_ms (overrides of the target's limits, for tests)."""
    models_dir = options.get("models_dir")
    if models_dir is not None:
        registry = ModelRegistry.from_directory(Path(models_dir))
    else:
        registry = ModelRegistry.for_names(list(target.guests.models), find_model)
    for name, path in options.get("models", ()):
        registry.add(name, Path(path))
    lim = target.limits
    limits = HostLimits(
        memory_bytes=int(options.get("memory_kib", lim.instance_memory_kib)) * 1024,
        timeout_ms=int(options.get("timeout_ms", lim.call_timeout_ms)),
        max_graphs=lim.max_graphs,
        max_contexts=lim.max_contexts,
    )
    # A backend asked for by name (`--backend`, or the option in tests) is used alone: no
    # fallback to another.
    chosen = options.get("backend")
    explicit = bool(chosen) or target.runtime.nn_backend_chosen
    rt = HostRuntime(registry, chosen or target.runtime.nn_backend, limits, explicit)
    if options.get("argv") is not None:
        rt.guest_args = tuple(a.encode() for a in options["argv"])
    rt.guest_environ = tuple(f"{k}={v}".encode() for k, v in options.get("env", ()))
    return rt


class HostDut(Dut):
    cli_options = frozenset({"models", "argv", "env"})

    def __init__(self, target: Target, options: dict[str, Any] | None = None) -> None:
        super().__init__(target, options)
        self._runtime: HostRuntime | None = None
        self._instances: dict[int, HostInstance] = {}
        self._next_id = 1

    @property
    def runtime(self) -> HostRuntime:
        if self._runtime is None:
            raise DeviceError("host device is not open")
        return self._runtime

    def open(self) -> None:
        if self._runtime is None:
            self._runtime = runtime_for(self.target, self.options)

    def close(self) -> None:
        self._instances.clear()
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def info(self) -> DeviceInfo:
        rt = self.runtime
        return DeviceInfo(
            runtime=self.target.runtime.kind,
            engine=self.target.runtime.engine,
            nn_backend=rt.loader.default_backend,
            memory_budget_kib=rt.limits.memory_bytes // 1024,
            models=tuple(rt.loader.registry.names()),
            max_graphs=rt.limits.max_graphs,
            max_contexts=rt.limits.max_contexts,
            model_backends=self._model_backends(),
        )

    def _model_backends(self) -> dict[str, str]:
        """Where the fallback policy moves a model off the default backend (loads to find out)."""
        rt = self.runtime
        out = {}
        for name in rt.loader.registry.names():
            try:
                loaded = rt.loader.load_named(name, None)
            except Exception as e:  # reported as unusable rather than failing info()
                out[name] = f"none ({e})"
                continue
            if loaded.backend != rt.loader.default_backend:
                out[name] = loaded.backend
        return out

    def deployment(self, deployment: Deployment, on_event: EventSink) -> DeploymentRun:
        from edge_runtime.host.pipeline import Pipeline

        return Pipeline(deployment, self.runtime, self.target.name, on_event=on_event)

    def put_model(self, name: str, data: bytes) -> None:
        self.runtime.loader.registry.put(name, data)

    def instantiate(self, module_name: str, wasm: bytes) -> int:
        try:
            inst = self.runtime.instantiate(module_name, wasm)
        except GuestError as e:
            raise DeviceError(str(e), hint=e.hint) from e
        failed = inst.ensure_initialized()
        if failed is not None:
            raise DeviceError(f"module {module_name}: _initialize failed: {failed.message}")
        iid = self._next_id
        self._next_id += 1
        self._instances[iid] = inst
        return iid

    def instance(self, iid: int) -> HostInstance:
        inst = self._instances.get(iid)
        if inst is None:
            raise DeviceError(f"no instance {iid} on the host device")
        return inst

    def call(self, instance: int, export: str, args: list[int]) -> CallOutcome:
        r = self.instance(instance).call(export, [_i32(a) for a in args])
        return CallOutcome(r.status, r.value, r.message, r.elapsed_us, r.exit_code)

    def write_memory(self, instance: int, addr: int, data: bytes) -> None:
        inst = self.instance(instance)
        mem = inst.memory_view(inst.store)
        if mem is None or not mem.ok(addr, len(data)):
            raise DeviceError(f"write_memory: [{addr:#x}, +{len(data)}) outside instance memory")
        mem.write(addr, data)

    def read_memory(self, instance: int, addr: int, n: int) -> bytes:
        inst = self.instance(instance)
        mem = inst.memory_view(inst.store)
        if mem is None or not mem.ok(addr, n):
            raise DeviceError(f"read_memory: [{addr:#x}, +{n}) outside instance memory")
        return mem.view(addr, n).tobytes()

    def logs(self, instance: int) -> bytes:
        return self.instance(instance).logs()

    def drop(self, instance: int) -> None:
        self._instances.pop(instance, None)


def _i32(value: int) -> int:
    """Arguments may be given as u32 (e.g. 0xFFFFFFF0): wasm takes them as signed i32."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


register_device("local", HostDut)
