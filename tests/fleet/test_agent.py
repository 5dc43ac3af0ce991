"""The device agent as a real process against a real mosquitto over mutual TLS: deployments,
verification before use, atomic swap, results across a broker restart."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from build_tools.fleet import operator
from build_tools.fleet.operator import deployment_id_of
from build_tools.fleet.pki import CertificateAuthority
from edge_runtime.fleet import topics
from edge_runtime.fleet.mqtt import close_client, make_client

from .conftest import RunningBroker, adder_wasm, manifest_for

V1, V2 = adder_wasm(0), adder_wasm(100)


class ModuleServer:
    """Serves module bytes over HTTP on loopback; `truncate[path]` cuts the body short after
    announcing its full length (an interrupted download)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.path in server.truncate:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def modules() -> Iterator[ModuleServer]:
    s = ModuleServer()
    yield s
    s.close()


def rollout(
    broker: RunningBroker, ca: CertificateAuthority, body: dict[str, Any], devices: list[str]
) -> operator.Rollout:
    body = {**body, "deploymentId": deployment_id_of(body)}
    return operator.publish(broker.endpoint(ca, "operator"), body, devices, wait=60)


def add(broker: RunningBroker, ca: CertificateAuthority, dev: str, inst: str = "adder") -> Any:
    r = operator.command(broker.endpoint(ca, "operator"), dev, inst, "add", [2, 3])
    return r["response"].get("value") if r["status"] == "ok" else r


def deployed_v1(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any, name: str
) -> tuple[Any, str]:
    modules.files["/v1.wasm"] = V1
    agent = agents(name)
    agent.wait_connected()
    r = rollout(
        broker, ca, manifest_for({"m": (modules.url("/v1.wasm"), V1)}, {"adder": "m"}), [name]
    )
    assert r.ok, r.devices
    assert add(broker, ca, name) == 5
    return agent, r.deployment_id


def reported(broker: RunningBroker, ca: CertificateAuthority, dev: str) -> dict[str, Any]:
    return dict(operator.reported(broker.endpoint(ca, "operator"), [dev])[dev])


def test_deploy_then_upgrade_swaps_the_running_module(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any
) -> None:
    deployed_v1(broker, ca, modules, agents, "dev-upgrade")
    modules.files["/v2.wasm"] = V2
    r = rollout(
        broker,
        ca,
        manifest_for({"m": (modules.url("/v2.wasm"), V2)}, {"adder": "m"}),
        ["dev-upgrade"],
    )
    assert r.ok, r.devices
    assert add(broker, ca, "dev-upgrade") == 105
    rep = reported(broker, ca, "dev-upgrade")
    assert rep["online"] is True
    assert rep["deploymentStatus"]["reconcileStatus"] == "ok"
    assert rep["deploymentStatus"]["instances"]["adder"] == {"status": "ok", "moduleId": "m"}
    assert rep["agent"]["runningDeploymentId"] == r.deployment_id


def test_tampered_module_is_refused_and_the_old_one_keeps_running(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any
) -> None:
    agent, v1_id = deployed_v1(broker, ca, modules, agents, "dev-tamper")
    tampered = V2[:-1] + bytes([V2[-1] ^ 1])
    modules.files["/v2.wasm"] = tampered  # the manifest's hash is of V2
    r = rollout(
        broker,
        ca,
        manifest_for({"m": (modules.url("/v2.wasm"), V2)}, {"adder": "m"}),
        ["dev-tamper"],
    )
    assert r.devices["dev-tamper"]["reconcileStatus"] == "error"
    assert "sha256 mismatch" in r.devices["dev-tamper"]["failure"]
    assert add(broker, ca, "dev-tamper") == 5
    rep = reported(broker, ca, "dev-tamper")
    assert rep["agent"]["runningDeploymentId"] == v1_id
    assert rep["deploymentStatus"]["modules"]["m"]["status"] == "error"
    cache = agent.home / "state" / "modules"
    assert sorted(p.name for p in cache.iterdir()) == [f"{hashlib.sha256(V1).hexdigest()}.wasm"]


def test_interrupted_download_keeps_the_old_deployment(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any
) -> None:
    _, v1_id = deployed_v1(broker, ca, modules, agents, "dev-cut")
    modules.files["/v2.wasm"] = V2
    modules.truncate.add("/v2.wasm")
    r = rollout(
        broker, ca, manifest_for({"m": (modules.url("/v2.wasm"), V2)}, {"adder": "m"}), ["dev-cut"]
    )
    assert r.devices["dev-cut"]["reconcileStatus"] == "error"
    assert "download failed" in r.devices["dev-cut"]["failure"]
    assert add(broker, ca, "dev-cut") == 5
    assert reported(broker, ca, "dev-cut")["agent"]["runningDeploymentId"] == v1_id
    # The same deployment once the server delivers: applied.
    modules.truncate.clear()
    body = manifest_for({"m": (modules.url("/v2.wasm"), V2)}, {"adder": "m"})
    body["deploymentId"] = "retry-" + deployment_id_of(body)[:8]
    r = operator.publish(broker.endpoint(ca, "operator"), body, ["dev-cut"], wait=60)
    assert r.ok, r.devices
    assert add(broker, ca, "dev-cut") == 105


def test_an_instance_that_cannot_instantiate_keeps_the_old_deployment(
    broker: RunningBroker,
    ca: CertificateAuthority,
    modules: ModuleServer,
    agents: Any,
    tmp_path: Path,
) -> None:
    deployed_v1(broker, ca, modules, agents, "dev-bad")
    bad = b"\x00asm\x01\x00\x00\x00\x05"  # verified hash, but not a valid module
    f = tmp_path / "bad.wasm"
    f.write_bytes(bad)
    r = rollout(broker, ca, manifest_for({"m": (f.as_uri(), bad)}, {"adder": "m"}), ["dev-bad"])
    assert r.devices["dev-bad"]["reconcileStatus"] == "error"
    assert "instance adder" in r.devices["dev-bad"]["failure"]
    assert add(broker, ca, "dev-bad") == 5


def test_malformed_manifest_is_reported(
    broker: RunningBroker, ca: CertificateAuthority, agents: Any
) -> None:
    agents("dev-malformed").wait_connected()
    with operator.Session(broker.endpoint(ca, "operator")) as s:
        s.subscribe(topics.reported("dev-malformed"))
        s.publish(
            topics.deployment("dev-malformed"),
            {"deployment": {"deploymentId": "x", "modules": {}}},
            retain=True,
        )
        deadline = time.monotonic() + 20
        while (msg := s.next(deadline)) is not None:
            st = json.loads(msg.payload)["deploymentStatus"]
            if st["reconcileStatus"] == "error":
                assert "$.deployment.instanceSpecs: required key is missing" in st["failureMessage"]
                return
    raise AssertionError("no error status for a malformed manifest")


def test_results_survive_a_broker_restart(
    broker: RunningBroker, ca: CertificateAuthority, agents: Any
) -> None:
    """Telemetry every 0.1 s; the broker is down for ~3 s in the middle: every message the
    agent produced reaches a persistent subscriber (by seq), none is lost."""
    seqs: set[int] = set()
    ep = broker.endpoint(ca, "operator")
    consumer = make_client(ep, "consumer-restart", clean_start=False)
    consumer.on_connect = lambda c, *_: c.subscribe(topics.telemetry("dev-restart"), 1)
    consumer.on_message = lambda _c, _u, m: seqs.add(int(json.loads(m.payload)["seq"]))
    consumer.reconnect_delay_set(0.2, 1)
    consumer.connect("127.0.0.1", broker.port)
    consumer.loop_start()
    agent = agents("dev-restart", telemetry_interval_s=0.1)
    try:
        agent.wait_connected()
        time.sleep(1.5)
        broker.broker.stop()
        time.sleep(3.0)
        assert not agent.health()["connected"]
        queued = len(list((agent.home / "state" / "outbox").glob("*.msg")))
        assert queued >= 10, (
            "the agent should have queued results on disk while the broker was down"
        )
        broker.broker.start()
        agent.wait_connected()
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and len(list((agent.home / "state" / "outbox").glob("*.msg"))) > 2
        ):
            time.sleep(0.2)
        time.sleep(1.0)
        agent.stop()
        outbox = agent.home / "state" / "outbox"
        unsent = {int(p.stem) for p in outbox.glob("*.msg")}
        last = int((outbox / "next_seq").read_text())
        deadline = time.monotonic() + 10
        expected = set(range(min(seqs), last)) - unsent
        while time.monotonic() < deadline and not expected <= seqs:
            time.sleep(0.2)
        assert expected - seqs == set(), f"lost {sorted(expected - seqs)[:10]} of {len(expected)}"
        assert len(expected) > 40
    finally:
        close_client(consumer)


def test_agent_resumes_its_deployment_after_a_restart(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any
) -> None:
    agent, v1_id = deployed_v1(broker, ca, modules, agents, "dev-resume")
    agent.stop()
    modules.files.clear()  # nothing to download any more: the verified module is on the device
    agent.start()
    agent.wait_connected()
    assert agent.health()["deploymentId"] == v1_id
    assert add(broker, ca, "dev-resume") == 5


def test_telemetry_reports_calls_errors_latency_and_memory(
    broker: RunningBroker, ca: CertificateAuthority, modules: ModuleServer, agents: Any
) -> None:
    modules.files["/v1.wasm"] = V1
    agent = agents("dev-telemetry", telemetry_interval_s=0.5)
    agent.wait_connected()
    r = rollout(
        broker,
        ca,
        manifest_for({"m": (modules.url("/v1.wasm"), V1)}, {"adder": "m"}),
        ["dev-telemetry"],
    )
    assert r.ok, r.devices
    ep = broker.endpoint(ca, "operator")
    assert add(broker, ca, "dev-telemetry") == 5
    bad = operator.command(ep, "dev-telemetry", "adder", "no_such_export", [])
    assert bad["status"] == "error"
    with operator.Session(ep) as s:
        s.subscribe(topics.telemetry("dev-telemetry"))
        deadline = time.monotonic() + 20
        while (msg := s.next(deadline)) is not None:
            t = json.loads(msg.payload)
            if t.get("adder/calls") == 2:
                assert t["adder/errors"] == 1
                assert t["adder/latency_us"]["max"] >= t["adder/latency_us"]["mean"] >= 0
                assert t["adder/memory_bytes"] == 65536  # one wasm page
                assert t["agent/queued"] >= 0 and t["agent/dropped"] == 0
                return
    raise AssertionError("no telemetry with the two calls")
