"""The agent with the pipeline executor (its default): an EVP source -> sink deployment
published over MQTT runs on the device, and the instances' state reports reach the operator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from build_tools.fleet import operator
from build_tools.fleet.pki import CertificateAuthority
from build_tools.guests import build_evp_modules
from build_tools.targets import load_target
from edge_runtime.fleet import topics
from tests.deployment.conftest import manifest

from .conftest import RunningBroker


def test_evp_pipeline_runs_on_the_agent(
    broker: RunningBroker, ca: CertificateAuthority, agents: Any
) -> None:
    mods: dict[str, Path] = build_evp_modules(load_target("host"))
    agent = agents("dev-pipeline", executor="pipeline")
    agent.wait_connected()
    m = manifest(
        mods,
        {
            "src": ("evp_source", {"out": "numbers"}, {}),
            "sink": ("evp_sink", {}, {"in": "numbers"}),
        },
        {"src": {"config": {"count": 5}}},
    )
    body = m["deployment"]
    body["deploymentId"] = operator.deployment_id_of(body)
    ep = broker.endpoint(ca, "operator")
    with operator.Session(ep) as s:
        s.subscribe(topics.telemetry("dev-pipeline"))
        r = operator.publish(ep, body, ["dev-pipeline"], wait=60)
        assert r.ok, r.devices
        deadline = time.monotonic() + 30
        seen: dict[str, Any] = {}
        while (msg := s.next(deadline)) is not None:
            seen.update(json.loads(msg.payload))
            if seen.get("state/sink/received", "").startswith("n=5 "):
                break
    assert seen.get("state/sink/received") == "n=5 topic=in last=4", seen
    assert seen.get("state/src/progress") == "sent=5 acked=5 errors=0 denied=0", seen
    st = operator.reported(ep, ["dev-pipeline"])["dev-pipeline"]["deploymentStatus"]
    assert st["instances"]["sink"] == {"status": "ok", "moduleId": "evp_sink"}
