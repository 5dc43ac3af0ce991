"""The operator's side of the fleet, as functions (the `fleet` command is a thin wrapper):
publish a deployment to devices and wait for them, read their reported status and logs, send
a direct command."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge_runtime.deployment import parse_deployment
from edge_runtime.errors import DeviceError
from edge_runtime.fleet import topics
from edge_runtime.fleet.mqtt import Endpoint, close_client, make_client

from ..errors import BuildToolsError
from .pki import CertificateAuthority

OPERATOR = "operator"


def operator_endpoint(pki_dir: Path, host: str, port: int, name: str = OPERATOR) -> Endpoint:
    ca = CertificateAuthority(pki_dir)
    return Endpoint(host, port, ca.ca_cert_path, ca.cert_path(name), ca.key_path(name))


class Session:
    """One connected operator client; messages of subscribed topics go to `messages`."""

    def __init__(self, ep: Endpoint, timeout: float = 10.0) -> None:
        self.ep = ep
        self.timeout = timeout
        self.client = make_client(ep, f"{OPERATOR}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._subscribed: queue.Queue[int] = queue.Queue()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.messages.put(m)
        self.client.on_subscribe = lambda _c, _u, mid, _rc, _p: self._subscribed.put(mid)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            self._refused = str(rc)
        self._connected.set()

    def __enter__(self) -> Session:
        try:
            self.client.connect(self.ep.host, self.ep.port, keepalive=30)
        except OSError as e:
            raise DeviceError(f"broker {self.ep.host}:{self.ep.port}: cannot connect: {e}") from e
        self.client.loop_start()
        if not self._connected.wait(self.timeout) or self._refused:
            close_client(self.client)
            raise DeviceError(
                f"broker {self.ep.host}:{self.ep.port} refused the operator: "
                f"{self._refused or 'no answer'}"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        close_client(self.client)

    def subscribe(self, *topic_list: str) -> None:
        _, mid = self.client.subscribe([(t, 1) for t in topic_list])
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                if self._subscribed.get(timeout=0.1) == mid:
                    return
            except queue.Empty:
                continue
        raise DeviceError("broker did not acknowledge the subscription")

    def publish(self, topic: str, body: Any, retain: bool = False) -> None:
        info = self.client.publish(topic, json.dumps(body).encode(), qos=1, retain=retain)
        info.wait_for_publish(self.timeout)

    def next(self, deadline: float) -> mqtt.MQTTMessage | None:
        try:
            return self.messages.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            return None


def deployment_id_of(body: dict[str, Any]) -> str:
    """What the tools set `deploymentId` to: the sha256 of the canonical JSON without it."""
    rest = {k: v for k, v in body.items() if k != "deploymentId"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, Any]:
    """A manifest file (`{"deployment": {...}}` or the body alone), validated, with its
    deploymentId set to the body's sha256 when absent."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BuildToolsError(f"manifest {path}: {e}") from e
    body = data.get("deployment", data) if isinstance(data, dict) else data
    if isinstance(body, str):
        body = json.loads(body)
    if not isinstance(body, dict):
        raise BuildToolsError(f"manifest {path}: expected a JSON object")
    if not body.get("deploymentId"):
        body = {**body, "deploymentId": deployment_id_of(body)}
    parse_deployment(json.dumps({"deployment": body}), str(path))
    return body


@dataclass(frozen=True)
class Rollout:
    deployment_id: str
    seconds: float
    devices: dict[str, dict[str, Any]]  # device -> {"reconcileStatus", "seconds", "failure"?}

    @property
    def ok(self) -> bool:
        return all(d["reconcileStatus"] == "ok" for d in self.devices.values())


def publish(ep: Endpoint, body: dict[str, Any], devices: list[str], wait: float = 60.0) -> Rollout:
    """Publishes the deployment (retained) to each device and waits until each reports it `ok`
    or `error` (wait=0: do not wait)."""
    dep_id = str(body["deploymentId"])
    with Session(ep) as s:
        if wait:
            s.subscribe(*(topics.reported(d) for d in devices))
        start = time.monotonic()
        for d in devices:
            s.publish(topics.deployment(d), {"deployment": body}, retain=True)
        results: dict[str, dict[str, Any]] = {}
        deadline = start + wait
        while wait and len(results) < len(devices):
            msg = s.next(deadline)
            if msg is None:
                break
            dev = topics.device_of(msg.topic)
            st = json.loads(msg.payload).get("deploymentStatus", {})
            if st.get("deploymentId") != dep_id or st.get("reconcileStatus") not in ("ok", "error"):
                continue
            results[dev] = {
                "reconcileStatus": st["reconcileStatus"],
                "seconds": round(time.monotonic() - start, 4),
            }
            if st.get("failureMessage"):
                results[dev]["failure"] = st["failureMessage"]
        elapsed = time.monotonic() - start
    for d in devices:
        results.setdefault(d, {"reconcileStatus": "timeout" if wait else "published"})
    return Rollout(dep_id, elapsed, results)


def reported(ep: Endpoint, devices: list[str] | None, timeout: float = 2.0) -> dict[str, Any]:
    """The retained `attributes/reported` of the given devices (or all): status and agent info,
    plus whether the device is online."""
    out: dict[str, Any] = {}
    with Session(ep) as s:
        if devices:
            s.subscribe(*(t for d in devices for t in (topics.reported(d), topics.online(d))))
        else:
            s.subscribe(topics.reported("+"), topics.online("+"))
        deadline = time.monotonic() + timeout
        while (msg := s.next(deadline)) is not None:
            dev = topics.device_of(msg.topic)
            entry = out.setdefault(dev, {})
            if msg.topic.endswith("/online"):
                entry["online"] = msg.payload == b"1"
            else:
                entry.update(json.loads(msg.payload))
            if devices and len(out) == len(devices) and all(len(v) >= 3 for v in out.values()):
                break
    return out


def device_logs(ep: Endpoint, device: str, timeout: float = 2.0) -> list[str]:
    with Session(ep) as s:
        s.subscribe(topics.logs(device))
        msg = s.next(time.monotonic() + timeout)
    return list(json.loads(msg.payload).get("lines", [])) if msg is not None else []


def command(
    ep: Endpoint, device: str, instance: str, method: str, args: list[int], timeout: float = 10.0
) -> dict[str, Any]:
    """An EVP direct command; returns the `direct-command-response`."""
    reqid = uuid.uuid4().hex[:12]
    with Session(ep) as s:
        s.subscribe(topics.rpc_response(device, reqid))
        request = {
            "method": "evp-c2d",
            "params": {
                "direct-command-request": {
                    "reqid": reqid,
                    "method": method,
                    "instance": instance,
                    "params": {"args": args},
                }
            },
        }
        s.publish(topics.rpc_request(device, reqid), request)
        msg = s.next(time.monotonic() + timeout)
    if msg is None:
        raise DeviceError(f"device {device}: no answer to {method} within {timeout:.0f} s")
    return dict(json.loads(msg.payload)["direct-command-response"])
