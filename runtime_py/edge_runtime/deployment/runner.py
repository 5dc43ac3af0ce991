"""Running a deployment to its end and reporting it, the same on every executor: the Python
host's pipeline (`host/pipeline.py`) and a C-runtime device driven over the device protocol
(`devices/pipeline_driver.py`). `run TARGET --deployment` is `run_to_end` over either.

What is printed (docs/pipeline.md): every state and telemetry report as a JSON line in EVP2's
uplink shapes while the deployment runs, then each instance's output prefixed `[instance]`, then
`{"deploymentStatus": ...}`. The exit code is 0 when the deployment applied and no instance is
in error, else 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol, TextIO


@dataclass(frozen=True)
class PipelineEvent:
    kind: str  # state | telemetry | failure | restart | exit
    instance: str
    data: Any  # state: {"topic", "value": bytes}; telemetry: {key: JSON}; others: text/number


EventSink = Callable[[PipelineEvent], None]


class SendOutcome(IntEnum):
    QUEUED = 0  # queued for every subscriber (possibly none)
    UNKNOWN_ALIAS = 1  # not in this instance's publish map: OK, sent-callback with ERROR
    DENIED = 2  # a subscriber's queue stayed full for the send timeout: EVP_DENIED


class DeploymentRun(Protocol):
    """One deployment on one executor: `start()`, `inject()`, `wait()`, `status()`, `stop()`."""

    def start(self) -> None: ...

    def inject(self, topic: str, payload: bytes) -> SendOutcome: ...

    def wait(self, seconds: float | None = None, messages: int | None = None) -> bool: ...

    def status(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...

    def logs(self, instance: str) -> bytes: ...


def uplink_line(event: PipelineEvent) -> dict[str, Any] | None:
    """A state or telemetry report in EVP2's uplink shape (state/<instance>/<topic>,
    <instance>/<key>); None for the other events (failures, restarts, exits)."""
    if event.kind == "state":
        value = event.data["value"].decode("utf-8", errors="replace")
        return {"state": {f"state/{event.instance}/{event.data['topic']}": value}}
    if event.kind == "telemetry":
        return {"telemetry": {f"{event.instance}/{k}": v for k, v in event.data.items()}}
    return None


def print_event(event: PipelineEvent, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """Reports go to stdout as JSON lines; failures, restarts and exits to stderr."""
    line = uplink_line(event)
    if line is None:
        print(f"instance {event.instance}: {event.kind}: {event.data}", file=err or sys.stderr)
        return
    print(json.dumps(line), file=out or sys.stdout, flush=True)


def failed(status: dict[str, Any]) -> bool:
    """Not applied, or an instance in error."""
    return status["reconcileStatus"] != "ok" or any(
        i["status"] == "error" for i in status["instances"].values()
    )


def run_to_end(
    run: DeploymentRun,
    instances: Iterable[str],
    inputs: list[tuple[str, bytes]],
    seconds: float | None,
    messages: int | None,
    out: TextIO | None = None,
) -> int:
    """Starts the deployment, publishes the inputs, waits (`--for` / `--messages`, else until
    every instance ended), stops it and prints the instances' output and the final status.
    Returns the exit code (0 applied and no instance in error, 1 otherwise)."""
    out = out or sys.stdout
    try:
        run.start()
        for topic, data in inputs:
            run.inject(topic, data)
        run.wait(seconds=seconds, messages=messages)
        status = run.status()
    finally:
        run.stop()
    for name in instances:
        for line in run.logs(name).decode("utf-8", errors="replace").splitlines():
            print(f"[{name}] {line}", file=out)
    print(json.dumps({"deploymentStatus": status}), file=out, flush=True)
    return 1 if failed(status) else 0
