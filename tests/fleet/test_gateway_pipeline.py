"""The gateway applies an EVP deployment on a C-runtime device as a pipeline the device runs
itself (put-module, bind, route, start over the device protocol): the same source -> sink
deployment and the same reports at the operator as with the host agent
(test_pipeline_agent.py), through a real mosquitto."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from build_tools.fleet import operator
from build_tools.fleet.pki import CertificateAuthority
from build_tools.guests import build_evp_modules
from build_tools.targets import load_target
from edge_runtime.fleet import topics
from tests.deployment.conftest import RUNTIMES, manifest

from .conftest import RunningBroker
from .test_gateway import descendants, gone


def evp_manifest(mods: dict[str, Path], count: int) -> dict[str, Any]:
    m = manifest(
        mods,
        {
            "src": ("evp_source", {"out": "numbers"}, {}),
            "sink": ("evp_sink", {}, {"in": "numbers"}),
        },
        {"src": {"config": {"count": count}}},
    )
    body: dict[str, Any] = m["deployment"]
    body["deploymentId"] = operator.deployment_id_of(body)
    return body


def reports_until(session: operator.Session, want: dict[str, str]) -> dict[str, Any]:
    """The device's telemetry entries until every entry of `want` arrived with its value."""
    deadline = time.monotonic() + 30
    seen: dict[str, Any] = {}
    while (msg := session.next(deadline)) is not None:
        seen.update(json.loads(msg.payload))
        if all(seen.get(k) == v for k, v in want.items()):
            break
    return seen


C_RUNTIMES = [
    n for n, t in RUNTIMES.items() if t.runtime.kind == "c" and t.limits.max_instances >= 2
]


@pytest.mark.parametrize("runtime", C_RUNTIMES)
def test_gateway_runs_an_evp_deployment_on_the_device(
    runtime: str, broker: RunningBroker, ca: CertificateAuthority, agents: Any
) -> None:
    target = RUNTIMES[runtime]
    mods: dict[str, Path] = build_evp_modules(load_target("host"))
    device = f"gw-{runtime}"
    gw = agents(
        device,
        command=("-m", "build_tools", "gateway", target.name, "--engine", target.runtime.engine),
    )
    gw.wait_connected(timeout=600)
    assert gw.proc is not None
    children = descendants(gw.proc.pid)
    ep = broker.endpoint(ca, "operator")
    try:
        with operator.Session(ep) as s:
            s.subscribe(topics.telemetry(device))
            r = operator.publish(ep, evp_manifest(mods, 5), [device], wait=60)
            assert r.ok, r.devices
            want = {
                "state/sink/received": "n=5 topic=in last=4",
                "state/src/progress": "sent=5 acked=5 errors=0 denied=0",
            }
            seen = reports_until(s, want)
            assert {k: seen.get(k) for k in want} == want, seen
            st = operator.reported(ep, [device])[device]["deploymentStatus"]
            assert st["instances"]["sink"] == {"status": "ok", "moduleId": "evp_sink"}
            # An update: the device's one deployment is replaced (fresh instances).
            r2 = operator.publish(ep, evp_manifest(mods, 3), [device], wait=60)
            assert r2.ok, r2.devices
            want = {
                "state/sink/received": "n=3 topic=in last=2",
                "state/src/progress": "sent=3 acked=3 errors=0 denied=0",
            }
            seen = reports_until(s, want)
            assert {k: seen.get(k) for k in want} == want, seen
            # A failed update (the sink's topic does not fit the device protocol: refused after
            # src was bound) leaves the device ready, and the previous deployment runs again
            # (fresh instances: their reports start over).
            quiet_until = time.monotonic() + 1.5
            while s.next(quiet_until) is not None:  # the reports of the running one so far
                quiet_until = time.monotonic() + 1.5
            bad = manifest(
                mods,
                {
                    "src": ("evp_source", {"out": "numbers"}, {}),
                    "sink": ("evp_sink", {}, {"in": "x" * 65}),
                },
            )["deployment"]
            bad["deploymentId"] = operator.deployment_id_of(bad)
            r3 = operator.publish(ep, bad, [device], wait=60)
            assert not r3.ok, r3.devices
            seen = reports_until(s, want)
            assert {k: seen.get(k) for k in want} == want, seen
            # EVP instances take no direct commands (no RPC callback yet): one clear answer.
            reply = operator.command(ep, device, "sink", "add", [1, 2])
            assert reply["status"] == "error"
            assert "not supported" in reply["response"]["message"]
    finally:
        gw.stop()
        left = gone(set(children), timeout=5.0)
        assert not left, f"processes left after the gateway stopped: {left}"
