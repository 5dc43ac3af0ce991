"""A gateway puts an MCU on the fleet: the agent (MQTT, mutual TLS, verified downloads, atomic
swap, outbox) with an executor that drives a device over the device protocol (docs/protocol.md)
instead of the wasmtime host: a board on a serial port, the emulated MCU (qemu-rv32) or the C
runtime as a process (posix). The device id is the gateway certificate's CN.

    python -m build_tools gateway TARGET --config agent.toml [--port URL]

A deployment of EVP modules (they import the `env` SDK) runs on the device as a pipeline
(devices/pipeline_driver.py: put-module, bind, route, start; its state and telemetry reports go
up like the host agent's). The device holds one deployment, so an update stops the running one
first and starts it again, fresh, when the new one cannot be applied. Any other deployment's
instances are plain reactor modules whose exports the operator calls by direct command (several
may be held at once while one is swapped for the next).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.deployment import Deployment, DeploymentError
from edge_runtime.deployment.runner import PipelineEvent
from edge_runtime.errors import DeviceError, GuestRejected
from edge_runtime.fleet.executor import EventSink, ExecutorError, InstanceStats
from edge_runtime.guest_abi import EVP
from edge_runtime.wasm_binary import read_module_info

from ..devices.base import Dut
from ..devices.pipeline_driver import DevicePipeline


@dataclass
class _Remote:
    module_id: str
    iid: int
    stats: InstanceStats = field(default_factory=InstanceStats)


@dataclass
class DeviceSlot:
    """The one device of a gateway: its link lock and the executor whose deployment the
    device runs as a pipeline (None when none does)."""

    dut: Dut
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipeline_owner: DutExecutor | None = None


def is_evp_deployment(modules: dict[str, Path]) -> bool:
    """True when any module imports the EVP module SDK (the device runs it as a pipeline)."""
    for mid, path in modules.items():
        try:
            info = read_module_info(path.read_bytes(), f"module {mid}")
        except GuestRejected:
            continue  # the device's own loader names what is wrong with it
        if any(i.module == EVP for i in info.imports):
            return True
    return False


class DutExecutor:
    """One deployment on a device. `lock` serialises every request on the one link."""

    def __init__(self, slot: DeviceSlot, events: EventSink | None = None) -> None:
        self.slot = slot
        self.dut = slot.dut
        self.lock = slot.lock
        self.events = events
        self._instances: dict[str, _Remote] = {}
        self._manifest: Deployment | None = None
        self.pipeline: DevicePipeline | None = None

    def apply(self, manifest: Deployment, modules: dict[str, Path]) -> None:
        if is_evp_deployment(modules):
            self._apply_pipeline(manifest, modules)
            return
        for name, spec in manifest.instances.items():
            wasm = modules[spec.module_id].read_bytes()
            try:
                with self.lock:
                    iid = self.dut.instantiate(name, wasm)
            except DeviceError as e:
                raise ExecutorError(f"instance {name}: {e}") from e
            self._instances[name] = _Remote(spec.module_id, iid)

    # -- a deployment the device runs as a pipeline --------------------------------------

    def _apply_pipeline(self, manifest: Deployment, modules: dict[str, Path]) -> None:
        # The agent verified the downloads: the device gets those files.
        local = dataclasses.replace(
            manifest,
            modules={
                mid: dataclasses.replace(spec, download_url=modules[mid].resolve().as_uri())
                if mid in modules
                else spec
                for mid, spec in manifest.modules.items()
            },
        )
        previous = self.slot.pipeline_owner
        if previous is not None:
            previous._halt()
        try:
            self._start_pipeline(local)
        except ExecutorError:
            if previous is not None:
                previous._resume()
            raise
        self.slot.pipeline_owner = self

    def _start_pipeline(self, manifest: Deployment) -> None:
        pipeline = DevicePipeline(self.dut, manifest, self._on_event, lock=self.lock)  # type: ignore[arg-type]
        self._manifest = manifest
        try:
            pipeline.start()
        except (DeploymentError, DeviceError) as e:
            pipeline.stop()  # also drops instances bound before the failure
            raise ExecutorError(str(e)) from e
        self.pipeline = pipeline
        for name, st in pipeline.status()["instances"].items():
            if st["status"] == "error":
                raise ExecutorError(f"instance {name}: {st.get('failureMessage', 'failed')}")

    def _halt(self) -> None:
        """Stops this executor's pipeline on the device (another deployment takes it)."""
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None

    def _resume(self) -> None:
        """Starts this executor's deployment again after a failed update (fresh instances)."""
        if self._manifest is None:
            return
        try:
            self._start_pipeline(self._manifest)
        except ExecutorError:
            return  # reported by the agent's status of the failed update
        self.slot.pipeline_owner = self

    def _on_event(self, event: PipelineEvent) -> None:
        if self.events is not None:
            self.events(event.kind, event.instance, event.data)

    # -- the executor interface ------------------------------------------------------------

    def status(self) -> dict[str, dict[str, Any]]:
        if self.pipeline is not None:
            return dict(self.pipeline.status()["instances"])
        return {n: {"status": "ok", "moduleId": r.module_id} for n, r in self._instances.items()}

    def call(self, instance: str, export: str, args: list[int]) -> dict[str, Any]:
        if self.pipeline is not None:
            return {
                "status": "error",
                "message": "direct commands to EVP instances are not supported yet (RPC callback)",
            }
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
        if self.pipeline is not None:
            for name, counters in self.pipeline.stats().items():
                out.update({f"{name}/{key}": value for key, value in counters.items()})
        try:
            with self.lock:
                stats = self.dut.stats()
        except DeviceError:
            stats = None
        if stats is not None:
            out["device/ram_high_water"] = stats.ram_high_water
        return out

    def stop(self) -> None:
        if self.slot.pipeline_owner is self:
            self._halt()
            self.slot.pipeline_owner = None
        for r in self._instances.values():
            try:
                with self.lock:
                    self.dut.drop(r.iid)
            except DeviceError:
                pass  # the device may have gone; nothing left to free then
        self._instances.clear()
