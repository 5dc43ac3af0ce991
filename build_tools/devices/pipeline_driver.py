"""A deployment run by a C-runtime device itself (docs/pipeline.md, protocol capability
PIPELINES, docs/protocol.md section 4.1), driven from the host over the device protocol.

The host side does what needs files and the network: it validates the manifest (the same code
as the Python host), downloads every module and checks its sha256, then uploads it (`PUT_*`) or
finds it built into a wasm2c firmware (`PUT_BEGIN` answers `PRESENT`). It binds each instance
with its `x-build-tools` limits, adds its routes (alias -> topic) and configuration values, and
starts the deployment. From then on the device runs it alone; the host only publishes external
messages (`PIPE_PUBLISH`, retried while the device answers BUSY: backpressure) and polls what the
instances report (`PIPE_POLL`: state, telemetry, status changes, output; `PIPE_STATUS`), which
it turns into the same events, counters and `deploymentStatus` as the host's executor
(`edge_runtime/host/pipeline.py`), so `edge_runtime/deployment/runner.py` prints and stops both
the same way.

`lock` serialises requests on the one link when others share it (the gateway).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from edge_runtime.deployment import Deployment, DeploymentError, InstanceLimits, fetch_module
from edge_runtime.deployment.runner import EventSink, PipelineEvent, SendOutcome
from edge_runtime.errors import DeviceError
from edge_runtime.protocol.client import DeviceClient, DeviceRequestError, PipelineBusy
from edge_runtime.protocol.messages import (
    PipeInstanceInfo,
    PipeInstanceStatus,
    PipeLimits,
    PipeRecord,
    PipeRecordKind,
    PipeState,
    PipeStatus,
)

from .base import NotSupported

if TYPE_CHECKING:
    from .posix import PosixDut

log = logging.getLogger(__name__)

POLL_S = 0.02  # between two polls of the device's outbox and status
STOP_GRACE_MS = 2000  # docs/pipeline.md section 2
MAX_TELEMETRY_KEPT = 10000

# Device instance status -> the executor state words of host/pipeline.py (Pipeline.stats).
_STATE = {
    PipeInstanceStatus.UNKNOWN: "starting",
    PipeInstanceStatus.OK: "ok",
    PipeInstanceStatus.ERROR: "error",  # for good
    PipeInstanceStatus.RESTARTING: "restarting",
    PipeInstanceStatus.SELF_EXITING: "self-exiting",
    PipeInstanceStatus.STOPPED: "stopped",
}
_ENDED = ("error", "self-exiting", "stopped")
_FAILED = (PipeInstanceStatus.ERROR, PipeInstanceStatus.RESTARTING)  # with a failure message


def pipe_limits(limits: InstanceLimits) -> PipeLimits:
    """The manifest's x-build-tools limits as PIPE_BIND carries them (0: the device's own)."""
    return PipeLimits(
        memory_kib=limits.memory_kib or 0,
        handler_timeout_ms=limits.handler_timeout_ms or 0,
        queue_depth=limits.queue_depth,
        send_timeout_ms=limits.send_timeout_ms,
        max_restarts=limits.max_restarts,
    )


class DevicePipeline:
    """One deployment on one open C-runtime device. `start()`, then `wait()` and `stop()`;
    the same interface as host.pipeline.Pipeline (runner.DeploymentRun)."""

    def __init__(
        self,
        dut: PosixDut,
        deployment: Deployment,
        on_event: EventSink | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.dut = dut
        self.deployment = deployment
        self.on_event = on_event
        self.lock = lock or threading.Lock()
        self._subscribers = deployment.subscribers()
        self._cond = threading.Condition()
        self._modules: dict[str, dict[str, str]] = {
            mid: {"status": "unknown"} for mid in deployment.modules
        }
        self._reconcile = "applying"
        self._infos: dict[str, PipeInstanceInfo] = {}
        self._logs: dict[str, bytearray] = {name: bytearray() for name in deployment.instances}
        self._link_error: str | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._bound = False  # PIPE_BIND sent: stop() must end (or drop) what the device holds
        self._started = False
        self._stopped = False
        self.states: dict[tuple[str, str], bytes] = {}
        self.telemetry: deque[tuple[str, str, Any]] = deque(maxlen=MAX_TELEMETRY_KEPT)
        self._counted = deployment.message_sinks()

    @property
    def client(self) -> DeviceClient:
        return self.dut.client

    @property
    def target(self) -> str:
        return self.dut.target.name

    # -- applying --------------------------------------------------------------------------

    def start(self) -> None:
        """Verifies and uploads every module, binds, routes and configures every instance and
        starts them. Raises DeploymentError (nothing started) naming what could not be used."""
        for spec in self.deployment.instances.values():
            if spec.target is not None and spec.target != self.target:
                self._reconcile = "error"
                raise DeploymentError(
                    f"instance {spec.name} is placed on target {spec.target}; this run "
                    f"executes target {self.target} only"
                )
        info = self.client.info or self.client.hello()
        if not info.can_run_pipelines:
            self._reconcile = "error"
            raise NotSupported(
                f"target {self.target}: its {info.engine} runtime does not run deployments "
                "(the device does not announce the PIPELINES capability)",
                hint="the wamr engine runs them: --engine wamr",
            )
        shas: dict[str, str] = {}
        used = {s.module_id for s in self.deployment.instances.values()}
        for mid in sorted(used):
            self._modules[mid] = {"status": "downloading"}
            try:
                wasm = fetch_module(self.deployment.modules[mid], self.deployment.base_dir)
                with self.lock:
                    shas[mid] = self.dut.ensure_module(mid, wasm, "guests.evp_modules")
            except (DeploymentError, DeviceError) as e:
                self._modules[mid] = {"status": "error", "failureMessage": str(e)}
                self._reconcile = "error"
                raise DeploymentError(str(e), hint=e.hint) from e
            self._modules[mid] = {"status": "ok"}
        with self.lock:
            self._bound = True
            for name, spec in self.deployment.instances.items():
                try:
                    self._bind(name, shas[spec.module_id])
                except (ValueError, DeviceRequestError) as e:
                    self._reconcile = "error"
                    reason = e.device_message if isinstance(e, DeviceRequestError) else str(e)
                    raise DeploymentError(
                        f"instance {name}: {reason or e}", hint="nothing was started"
                    ) from e
            self.client.pipe_start()
            self._started = True
            self._poll_once()
        self._thread = threading.Thread(
            target=self._poll_loop, name=f"pipeline-{self.target}", daemon=True
        )
        self._thread.start()

    def _bind(self, name: str, sha: str) -> None:
        spec = self.deployment.instances[name]
        c = self.client
        c.pipe_bind(name, sha, pipe_limits(spec.limits))
        for alias, key in spec.publish.items():
            c.pipe_route(name, False, alias, self.deployment.publish_topics[key].topic)
        for alias, key in spec.subscribe.items():
            c.pipe_route(name, True, alias, self.deployment.subscribe_topics[key].topic)
        for topic, value in spec.config.items():
            c.pipe_config(name, topic, value)

    # -- polling ---------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stopping.wait(POLL_S):
            try:
                with self.lock:
                    if self._stopping.is_set():
                        return
                    self._poll_once()
            except DeviceError as e:
                self._link_failed(str(e))
                return

    def _poll_once(self) -> PipeStatus:
        """One round (the caller holds the link's lock): reports (and output), then status."""
        records = self.client.pipe_poll()
        status = self.client.pipe_status()
        for record in records:
            self._record(record)
        with self._cond:
            for info in status.instances:
                self._infos[info.instance] = info
            if self._reconcile == "applying" and all(
                n in self._infos and self._infos[n].status is not PipeInstanceStatus.UNKNOWN
                for n in self.deployment.instances
            ):
                self._reconcile = "ok"
            self._cond.notify_all()
        return status

    def _record(self, r: PipeRecord) -> None:
        if r.kind is PipeRecordKind.STATE:
            with self._cond:
                self.states[(r.instance, r.key)] = r.value
            self._emit("state", r.instance, {"topic": r.key, "value": r.value})
        elif r.kind is PipeRecordKind.TELEMETRY:
            text = r.value.decode("utf-8", errors="replace")
            try:
                value: Any = json.loads(text)
            except ValueError:
                value = text
            with self._cond:
                self.telemetry.append((r.instance, r.key, value))
            self._emit("telemetry", r.instance, {r.key: value})
        elif r.kind is PipeRecordKind.LOG:  # the instance's stdout/stderr, in order
            with self._cond:
                self._logs.setdefault(r.instance, bytearray()).extend(r.value)
        elif r.status in _FAILED:
            self._emit("failure", r.instance, r.value.decode("utf-8", errors="replace"))
        elif r.status is PipeInstanceStatus.OK and r.restarts:
            self._emit("restart", r.instance, r.restarts)
        elif r.status is PipeInstanceStatus.SELF_EXITING:
            self._emit("exit", r.instance, "main returned 0")

    def _emit(self, kind: str, instance: str, data: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(PipelineEvent(kind, instance, data))
            except Exception:
                log.exception("pipeline event handler failed")

    def _link_failed(self, message: str) -> None:
        log.error("%s: deployment lost: %s", self.target, message)
        with self._cond:
            self._link_error = message
            self._cond.notify_all()

    # -- running ---------------------------------------------------------------------------

    def inject(self, topic: str, payload: bytes) -> SendOutcome:
        """Publishes `payload` on `topic` from outside the deployment. While the device answers
        BUSY (a receiver's queue is full) it retries, at most the largest sendTimeoutMs of the
        receivers (as the host executor waits); DENIED when it gave up (nothing queued)."""
        receivers = self._subscribers.get(topic, [])
        if not receivers:
            return SendOutcome.QUEUED  # no subscriber: dropped, as an instance's send would be
        wait_ms = max(
            self.deployment.instances[r.instance].limits.send_timeout_ms for r in receivers
        )
        deadline = time.monotonic() + wait_ms / 1000
        resend = False
        while True:
            try:
                with self.lock:
                    self.client.pipe_publish(topic, payload, resend_last=resend)
                return SendOutcome.QUEUED
            except PipelineBusy:
                resend = True
                if time.monotonic() >= deadline or self._stopping.is_set():
                    return SendOutcome.DENIED
                time.sleep(POLL_S)

    def received_total(self) -> int:
        with self._cond:
            return sum(i.received for n, i in self._infos.items() if n in self._counted)

    def _state(self, name: str) -> str:
        info = self._infos.get(name)
        return "starting" if info is None else _STATE[info.status]

    def wait(self, seconds: float | None = None, messages: int | None = None) -> bool:
        """As Pipeline.wait: until `messages` reached the sink instances, `seconds` passed, or
        no instance runs any more (or the link to the device failed)."""
        deadline = None if seconds is None else time.monotonic() + seconds

        def done() -> bool:
            if self._link_error is not None:
                return True
            if messages is not None and self.received_total() >= messages:
                return True
            return all(self._state(n) in _ENDED for n in self.deployment.instances)

        with self._cond:
            while not done():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left if left is not None else 1.0)
        return messages is not None and self.received_total() >= messages

    def wait_until(self, predicate: Any, seconds: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, seconds)

    def stop(self, grace_ms: int = STOP_GRACE_MS) -> None:
        """EVP_processEvent returns EVP_SHOULDEXIT on the device; waits until every instance
        ended (grace period, then their next EVP call or CPU-time limit), draining reports and
        output on the way."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        if not self._bound or self._link_error is not None:
            return
        if not self._started:  # bound, never started: the device drops what it holds
            try:
                with self.lock:
                    self.client.pipe_stop(grace_ms)
            except DeviceError as e:
                log.debug("%s: stop after a failed start: %s", self.target, e)
            return
        longest = max(
            (s.limits.handler_timeout_ms or self.dut.target.limits.call_timeout_ms)
            for s in self.deployment.instances.values()
        )
        deadline = time.monotonic() + (grace_ms + longest) / 1000 + 5.0
        try:
            with self.lock:
                self.client.pipe_stop(grace_ms)
                while True:
                    status = self._poll_once()
                    if status.state in (PipeState.STOPPED, PipeState.EMPTY):
                        break
                    if time.monotonic() >= deadline:
                        log.warning("%s: deployment did not stop in time", self.target)
                        break
                    time.sleep(POLL_S)
                for record in self.client.pipe_poll():
                    self._record(record)
        except DeviceError as e:
            self._link_failed(str(e))

    # -- reporting -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The deployment's status in EVP's deploymentStatus shape (as Pipeline.status)."""
        with self._cond:
            instances: dict[str, Any] = {}
            for name, spec in self.deployment.instances.items():
                info = self._infos.get(name)
                entry: dict[str, Any] = {
                    "status": info.status.evp if info is not None else "unknown",
                    "moduleId": spec.module_id,
                }
                if self._link_error is not None:
                    entry = {**entry, "status": "error", "failureMessage": self._link_error}
                elif info is not None and info.status in _FAILED:
                    entry["failureMessage"] = info.failure_message
                instances[name] = entry
            return {
                "instances": instances,
                "modules": {mid: dict(m) for mid, m in self._modules.items()},
                "deploymentId": self.deployment.deployment_id,
                "reconcileStatus": self._reconcile,
            }

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per instance counters, the keys of Pipeline.stats()."""
        with self._cond:
            out = {}
            for name in self.deployment.instances:
                i = self._infos.get(name)
                out[name] = {
                    "state": self._state(name),
                    "received": i.received if i else 0,
                    "sent": i.sent if i else 0,
                    "denied": i.denied if i else 0,
                    "dropped": i.dropped if i else 0,
                    "queued": i.queue_len if i else 0,
                    "max_queued": i.queue_high_water if i else 0,
                    "restarts": i.restarts if i else 0,
                }
            return out

    def logs(self, instance: str) -> bytes:
        with self._cond:
            return bytes(self._logs[instance])
