"""A gateway puts an MCU on the fleet: the agent (MQTT, mutual TLS, verified downloads, atomic
swap, outbox) with an executor that drives a device over the device protocol (docs/protocol.md)
instead of the wasmtime host: a board on a serial port, the emulated MCU (qemu-rv32) or the C
runtime as a process (posix). The device id is the gateway certificate's CN.

    python -m build_tools gateway TARGET --config agent.toml [--port URL]
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.deployment import Deployment
from edge_runtime.errors import DeviceError
from edge_runtime.fleet.executor import ExecutorError, InstanceStats

from ..devices.base import Dut


@dataclass
class _Remote:
    module_id: str
    iid: int
    stats: InstanceStats = field(default_factory=InstanceStats)


class DutExecutor:
    """One deployment on a device. Several may exist while a new one is being applied (the
    device holds both sets of instances until the agent stops the old executor); `lock`
    serialises every request on the one link."""

    def __init__(self, dut: Dut, lock: threading.Lock) -> None:
        self.dut = dut
        self.lock = lock
        self._instances: dict[str, _Remote] = {}

    def apply(self, manifest: Deployment, modules: dict[str, Path]) -> None:
        for name, spec in manifest.instances.items():
            wasm = modules[spec.module_id].read_bytes()
            try:
                with self.lock:
                    iid = self.dut.instantiate(name, wasm)
            except DeviceError as e:
                raise ExecutorError(f"instance {name}: {e}") from e
            self._instances[name] = _Remote(spec.module_id, iid)

    def status(self) -> dict[str, dict[str, Any]]:
        return {n: {"status": "ok", "moduleId": r.module_id} for n, r in self._instances.items()}

    def call(self, instance: str, export: str, args: list[int]) -> dict[str, Any]:
        remote = self._instances.get(instance)
        if remote is None:
            return {"status": "error", "message": f"no instance {instance!r}"}
        try:
            with self.lock:
                r = self.dut.call(remote.iid, export, args)
        except DeviceError as e:
            remote.stats.record(0, False)
            return {"status": "error", "message": str(e)}
        return remote.stats.call_result(r)

    def telemetry(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, r in self._instances.items():
            out.update(r.stats.telemetry(name))
        try:
            with self.lock:
                stats = self.dut.stats()
        except DeviceError:
            stats = None
        if stats is not None:
            out["device/ram_high_water"] = stats.ram_high_water
        return out

    def stop(self) -> None:
        for r in self._instances.values():
            try:
                with self.lock:
                    self.dut.drop(r.iid)
            except DeviceError:
                pass  # the device may have gone; nothing left to free then
        self._instances.clear()
