"""The pipeline executor on the Python host: runs a deployment's module instances as a dataflow.

Semantics (docs/pipeline.md; a device-side executor follows the same rules):
- Every instance is long-lived: its module's `main` runs on the instance's own thread and keeps
  its state between messages; callbacks run inside its `EVP_processEvent`.
- Routing: `EVP_sendMessage(alias)` -> the sender's publish alias -> publishTopics key -> topic ->
  every subscribe alias (of any instance, the sender included) whose subscribeTopics entry has
  that topic. The receiver's callback gets its own subscribe alias as the topic.
- Each instance has a bounded inbound queue (`queueDepth`). A send waits while any receiver's
  queue is full (backpressure), at most the largest `sendTimeoutMs` of its receivers, then
  returns EVP_DENIED and queues nothing (all or nothing, so a cycle of full queues cannot hang).
- A failing instance (trap, CPU limit, memory limit, non-zero exit) is reported in
  deploymentStatus and restarted fresh (its queue is kept; the message being handled is lost)
  up to `maxRestarts` times with backoff; the other instances keep running.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from ..deployment import Deployment, DeploymentError, InstanceSpec, Receiver, fetch_module
from ..deployment.runner import PipelineEvent
from ..guest_abi import EVP
from ..wasm_binary import TABLE_EXPORT, with_table_export
from .evp import EvpClient, Message, SendOutcome
from .runtime import CallResult, GuestError, HostLimits, HostRuntime

log = logging.getLogger(__name__)

# EVP_getWorkspaceDirectory's path is WORKSPACE_ROOT/<instance>: a temporary directory of the
# host per deployment instance, pre-opened there for WASI, removed by stop().
WORKSPACE_ROOT = "/workspace"
STOP_GRACE_S = 2.0
BACKOFF_S = (0.05, 2.0)  # first restart delay, cap (doubling)
MAX_TELEMETRY_KEPT = 10000


@dataclass
class _Worker:
    spec: InstanceSpec
    items: threading.Condition  # its queue got a message (or the deployment is stopping)
    room: threading.Condition  # its queue has room again (or it stopped for good)
    wasm: bytes = b""
    limits: HostLimits | None = None
    queue: deque[Message] = field(default_factory=deque)
    accepting: bool = True  # False once it stopped for good: messages to it are dropped
    state: str = "starting"  # starting | ok | restarting | error | self-exiting | stopped
    failure: str | None = None
    restarts: int = 0
    received: int = 0  # messages handed to its message callback
    sent: int = 0  # messages it queued (all receivers counted once)
    denied: int = 0
    dropped: int = 0  # messages to it dropped because it had stopped for good
    max_queued: int = 0  # high-water mark of its inbound queue
    logs: bytearray = field(default_factory=bytearray)
    thread: threading.Thread | None = None


class _Port:
    """One instance's view of the executor (see evp.Port); called on the instance's thread."""

    def __init__(self, pipeline: Pipeline, worker: _Worker) -> None:
        self.pipeline = pipeline
        self.worker = worker
        self.name = worker.spec.name

    def next_message(self, timeout_s: float | None) -> Message | None:
        return self.pipeline._next_message(self.worker, timeout_s)

    def stopping(self) -> bool:
        return self.pipeline._stopping

    def terminate_now(self) -> bool:
        return self.pipeline._terminate

    def send_message(self, alias: str, payload: bytes) -> SendOutcome:
        return self.pipeline._send(self.worker, alias, payload)

    def send_state(self, topic: str, payload: bytes) -> None:
        self.pipeline._state(self.name, topic, payload)

    def send_telemetry(self, entries: list[tuple[str, Any]]) -> None:
        self.pipeline._telemetry(self.name, entries)

    def received(self) -> None:
        self.pipeline._received(self.worker)


class Pipeline:
    """Runs one deployment on one HostRuntime. `start()`, then `wait()` and `stop()`."""

    def __init__(
        self,
        deployment: Deployment,
        runtime: HostRuntime,
        target: str,
        on_event: Callable[[PipelineEvent], None] | None = None,
    ) -> None:
        self.deployment = deployment
        self.runtime = runtime
        self.target = target
        self.on_event = on_event
        self._routes = deployment.routes()
        self._subscribers = deployment.subscribers()
        # One lock; _cond wakes whoever waits for status and counters, and each worker has its
        # own conditions so a message wakes its receiver only.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._workers = {
            name: _Worker(spec, threading.Condition(self._lock), threading.Condition(self._lock))
            for name, spec in deployment.instances.items()
        }
        self._modules: dict[str, dict[str, str]] = {
            mid: {"status": "unknown"} for mid in deployment.modules
        }
        self._reconcile = "applying"
        self._stopping = False
        self._terminate = False
        self.states: dict[tuple[str, str], bytes] = {}
        self.telemetry: deque[tuple[str, str, Any]] = deque(maxlen=MAX_TELEMETRY_KEPT)
        self._workspaces: dict[str, Path] = {}  # instance -> host directory (start .. stop)
        self._counted = deployment.message_sinks()  # what --messages counts

    # -- applying --------------------------------------------------------------------------

    def start(self) -> None:
        """Fetches and verifies every module, compiles it, then starts every instance.
        Raises DeploymentError (nothing started) when any module is unusable."""
        for spec in self.deployment.instances.values():
            if spec.target is not None and spec.target != self.target:
                self._reconcile = "error"
                raise DeploymentError(
                    f"instance {spec.name} is placed on target {spec.target}; this run "
                    f"executes target {self.target} only"
                )
        prepared: dict[str, bytes] = {}
        used = {s.module_id for s in self.deployment.instances.values()}
        for mid in sorted(used):
            self._modules[mid] = {"status": "downloading"}
            try:
                wasm = with_table_export(
                    fetch_module(self.deployment.modules[mid], self.deployment.base_dir),
                    f"module {mid}",
                )
                self.runtime.compile(mid, wasm)
            except (DeploymentError, GuestError) as e:
                self._modules[mid] = {"status": "error", "failureMessage": str(e)}
                self._reconcile = "error"
                raise DeploymentError(str(e), hint=e.hint) from e
            self._modules[mid] = {"status": "ok"}
            prepared[mid] = wasm
        base = self.runtime.limits
        for worker in self._workers.values():
            lim = worker.spec.limits
            worker.wasm = prepared[worker.spec.module_id]
            worker.limits = HostLimits(
                memory_bytes=(lim.memory_kib * 1024 if lim.memory_kib else base.memory_bytes),
                timeout_ms=lim.handler_timeout_ms or base.timeout_ms,
                max_graphs=base.max_graphs,
                max_contexts=base.max_contexts,
            )
        self.runtime.ticker.start()
        for name in self._workers:
            self._workspaces[name] = Path(tempfile.mkdtemp(prefix=f"evp-workspace-{name}-"))
        for worker in self._workers.values():
            worker.thread = threading.Thread(
                target=self._run, args=(worker,), name=f"evp-{worker.spec.name}", daemon=True
            )
            worker.thread.start()

    def _run(self, worker: _Worker) -> None:
        try:
            self._lifecycle(worker)
        except Exception as e:  # a host bug: reported as this instance's failure, not raised
            log.exception("instance %s: executor error", worker.spec.name)
            self._set(worker, "error", f"executor error: {e}")
            self._close(worker)

    def _lifecycle(self, worker: _Worker) -> None:
        spec = worker.spec
        while not self._stopping:
            workspace = f"{WORKSPACE_ROOT}/{spec.name}"
            client = EvpClient(_Port(self, worker), spec.config, workspace)
            try:
                inst = self.runtime.instantiate(
                    spec.name,
                    worker.wasm,
                    provided={EVP: client},
                    limits=worker.limits,
                    preopens=((workspace, self._workspaces[spec.name]),),
                )
            except GuestError as e:
                with self._cond:
                    self._reconcile = "error"
                self._fail_for_good(worker, str(e))
                return
            missing = [
                name
                for name, kind in (
                    ("_start", wasmtime.Func),
                    ("malloc", wasmtime.Func),
                    ("free", wasmtime.Func),
                    (TABLE_EXPORT, wasmtime.Table),
                )
                if not isinstance(inst.exports.get(name), kind)
            ]
            if missing:
                self._fail_for_good(
                    worker,
                    f"module {spec.module_id}: an EVP module must be a WASI command exporting "
                    f"malloc and free; missing: {', '.join(missing)}",
                )
                return
            client.attach(inst)
            self._set(worker, "ok", None)
            result = inst.call("_start", [])
            with self._cond:
                worker.logs += inst.logs()
                worker.dropped += client.dropped
            if self._stopping and _clean(result):
                self._set(worker, "stopped", None)
                return
            if _clean(result):
                self._set(worker, "self-exiting", None)
                self._emit("exit", spec.name, result.message)
                self._close(worker)
                return
            message = _describe(result)
            if worker.restarts >= spec.limits.max_restarts:
                # One event per failure (docs/pipeline.md section 5): the last one says it gave up.
                self._fail_for_good(worker, f"{message} (gave up after {worker.restarts} restarts)")
                return
            self._emit("failure", spec.name, message)
            worker.restarts += 1
            self._set(worker, "restarting", message)
            delay = min(BACKOFF_S[0] * 2 ** (worker.restarts - 1), BACKOFF_S[1])
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, timeout=delay)
            self._emit("restart", spec.name, worker.restarts)

    def _fail_for_good(self, worker: _Worker, message: str) -> None:
        self._set(worker, "error", message)
        self._emit("failure", worker.spec.name, message)
        self._close(worker)

    def _close(self, worker: _Worker) -> None:
        with self._cond:
            worker.accepting = False
            worker.dropped += len(worker.queue)
            worker.queue.clear()
            worker.room.notify_all()
            self._cond.notify_all()

    def _set(self, worker: _Worker, state: str, failure: str | None) -> None:
        with self._cond:
            worker.state = state
            worker.failure = failure
            if self._reconcile == "applying" and all(
                w.state != "starting" for w in self._workers.values()
            ):
                self._reconcile = "ok"
            self._cond.notify_all()

    # -- messages --------------------------------------------------------------------------

    def _send(self, sender: _Worker, alias: str, payload: bytes) -> SendOutcome:
        receivers = self._routes.get((sender.spec.name, alias))
        if receivers is None:
            return SendOutcome.UNKNOWN_ALIAS
        outcome = self._deliver(receivers, payload)
        with self._cond:
            if outcome is SendOutcome.QUEUED:
                sender.sent += 1
            else:
                sender.denied += 1
        return outcome

    def _deliver(self, receivers: list[Receiver], payload: bytes) -> SendOutcome:
        if not receivers:
            return SendOutcome.QUEUED
        targets = [(self._workers[r.instance], Message(r.alias, payload)) for r in receivers]
        wait_s = max(w.spec.limits.send_timeout_ms for w, _ in targets) / 1000
        deadline = time.monotonic() + wait_s

        def full() -> _Worker | None:
            for w, _ in targets:
                if w.accepting and len(w.queue) >= w.spec.limits.queue_depth:
                    return w
            return None

        with self._lock:
            while not self._stopping and (blocking := full()) is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return SendOutcome.DENIED
                blocking.room.wait(left)
            if self._stopping:
                return SendOutcome.DENIED
            for worker, message in targets:
                if worker.accepting:
                    worker.queue.append(message)
                    worker.max_queued = max(worker.max_queued, len(worker.queue))
                    worker.items.notify()
                else:
                    worker.dropped += 1
        return SendOutcome.QUEUED

    def _next_message(self, worker: _Worker, timeout_s: float | None) -> Message | None:
        with self._lock:
            if not worker.items.wait_for(lambda: worker.queue or self._stopping, timeout_s):
                return None
            if self._stopping or not worker.queue:
                return None
            message = worker.queue.popleft()
            worker.room.notify_all()  # senders may be waiting for room
            return message

    def _received(self, worker: _Worker) -> None:
        with self._cond:
            worker.received += 1
            self._cond.notify_all()

    def inject(self, topic: str, payload: bytes) -> SendOutcome:
        """Publishes `payload` on `topic` from outside the deployment (e.g. run --input)."""
        return self._deliver(self._subscribers.get(topic, []), payload)

    def _state(self, instance: str, topic: str, payload: bytes) -> None:
        with self._cond:
            self.states[(instance, topic)] = payload
            self._cond.notify_all()
        self._emit("state", instance, {"topic": topic, "value": payload})

    def _telemetry(self, instance: str, entries: list[tuple[str, Any]]) -> None:
        with self._cond:
            self.telemetry.extend((instance, key, value) for key, value in entries)
            self._cond.notify_all()
        self._emit("telemetry", instance, dict(entries))

    def _emit(self, kind: str, instance: str, data: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(PipelineEvent(kind, instance, data))
            except Exception:
                log.exception("pipeline event handler failed")

    # -- running ---------------------------------------------------------------------------

    def received_total(self) -> int:
        with self._cond:
            return sum(self._workers[n].received for n in self._counted)

    def wait(self, seconds: float | None = None, messages: int | None = None) -> bool:
        """Until `messages` were received by the sink instances (those that publish nothing;
        all instances when none), `seconds` passed, or no instance runs any more. True when
        the message count was reached."""
        deadline = None if seconds is None else time.monotonic() + seconds

        def done() -> bool:
            if messages is not None and self.received_total() >= messages:
                return True
            return all(
                w.state in ("error", "self-exiting", "stopped") for w in self._workers.values()
            )

        with self._cond:
            while not done():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left if left is not None else 1.0)
        return messages is not None and self.received_total() >= messages

    def wait_until(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Waits (under the executor's lock) until predicate() holds; False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, seconds)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """EVP_processEvent returns EVP_SHOULDEXIT; instances still running after the grace
        period are terminated at their next EVP call (or by their CPU-time limit)."""
        with self._lock:
            self._stopping = True
            self._cond.notify_all()
            for worker in self._workers.values():
                worker.items.notify_all()
                worker.room.notify_all()
        deadline = time.monotonic() + grace_s
        for worker in self._workers.values():
            if worker.thread is not None:
                worker.thread.join(max(deadline - time.monotonic(), 0))
        self._terminate = True
        for worker in self._workers.values():
            if worker.thread is not None:
                limit = (worker.limits.timeout_ms if worker.limits else 1000) / 1000
                worker.thread.join(limit + 1)
                if worker.thread.is_alive():
                    log.warning("instance %s did not stop", worker.spec.name)
        for directory in self._workspaces.values():
            shutil.rmtree(directory, ignore_errors=True)
        self._workspaces.clear()

    def workspace(self, instance: str) -> Path | None:
        """The host directory behind the instance's workspace (None before start, after stop)."""
        return self._workspaces.get(instance)

    # -- reporting -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The deployment's status in EVP's deploymentStatus shape."""
        with self._cond:
            instances: dict[str, Any] = {}
            for name, w in self._workers.items():
                entry: dict[str, Any] = {
                    "status": _EVP_STATUS[w.state],
                    "moduleId": w.spec.module_id,
                }
                if w.failure is not None:
                    entry["failureMessage"] = w.failure
                instances[name] = entry
            return {
                "instances": instances,
                "modules": {mid: dict(m) for mid, m in self._modules.items()},
                "deploymentId": self.deployment.deployment_id,
                "reconcileStatus": self._reconcile,
            }

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per instance counters of this executor (not part of EVP's status)."""
        with self._cond:
            return {
                name: {
                    "state": w.state,
                    "received": w.received,
                    "sent": w.sent,
                    "denied": w.denied,
                    "dropped": w.dropped,
                    "queued": len(w.queue),
                    "max_queued": w.max_queued,
                    "restarts": w.restarts,
                }
                for name, w in self._workers.items()
            }

    def logs(self, instance: str) -> bytes:
        with self._cond:
            return bytes(self._workers[instance].logs)


# Executor states as EVP reports instance status (failureMessage carries the cause).
_EVP_STATUS = {
    "starting": "unknown",
    "ok": "ok",
    "restarting": "error",
    "error": "error",
    "self-exiting": "self-exiting",
    "stopped": "unknown",
}


def _clean(result: CallResult) -> bool:
    return result.status == "ok" or (result.status == "exit" and result.exit_code == 0)


def _describe(result: CallResult) -> str:
    if result.status == "exit":
        return f"exited with code {result.exit_code}"
    return result.message
