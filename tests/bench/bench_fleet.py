"""Fleet timings on loopback: a real mosquitto (mutual TLS) and N agent processes.

Run from the repository root:
    .venv/bin/python tests/bench/bench_fleet.py [--agents 1 20] [--executor exports|pipeline] [--json]

Measures (1) the time from `fleet publish` to every device reporting the new deployment `ok`,
for each agent count (median of 3 roll-outs, alternating two modules so each is a new
deployment; `pipeline`: an EVP source -> sink pair); (2) the broker round trip of one QoS 1 result message (publish -> PUBACK, the
agent's outbox path), median of 500; (3) a direct command answered by an agent (request ->
response through the broker), median of 200.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `tests` and `build_tools` importable
    sys.path.insert(0, str(ROOT))

from build_tools.fleet import operator  # noqa: E402
from build_tools.fleet.operator import deployment_id_of  # noqa: E402
from build_tools.fleet.pki import CertificateAuthority  # noqa: E402
from build_tools.guests import build_evp_modules  # noqa: E402
from build_tools.targets import load_target  # noqa: E402
from build_tools.toolchains.mosquitto import Broker, BrokerConfig, render_acl  # noqa: E402
from edge_runtime.fleet import topics  # noqa: E402
from tests.deployment.conftest import manifest  # noqa: E402
from tests.fleet.conftest import AgentProcess, adder_wasm, free_port, manifest_for  # noqa: E402

ROLLOUTS = 3


def rollout_times(
    ep: operator.Endpoint, devices: list[str], modules: list[Path], executor: str
) -> list[float]:
    times = []
    evp = build_evp_modules(load_target("host")) if executor == "pipeline" else {}
    for i in range(ROLLOUTS):
        if executor == "pipeline":  # EVP source -> sink, a different message count each time
            body = manifest(
                evp,
                {
                    "src": ("evp_source", {"out": "n"}, {}),
                    "sink": ("evp_sink", {}, {"in": "n"}),
                },
                {"src": {"config": {"count": 10 + i}}},
            )["deployment"]
        else:
            f = modules[i % 2]
            body = manifest_for({"m": (f.as_uri(), f.read_bytes())}, {"adder": "m"})
        body["deploymentId"] = f"bench-{i}-" + deployment_id_of(body)[:8]
        r = operator.publish(ep, body, devices, wait=300)
        assert r.ok, r.devices
        times.append(max(d["seconds"] for d in r.devices.values()))
    return times


def puback_rtt(ep: operator.Endpoint, n: int = 500) -> float:
    with operator.Session(ep) as s:
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            s.client.publish(
                topics.telemetry("bench-sink"), json.dumps({"seq": i}).encode(), qos=1
            ).wait_for_publish(10)
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def command_rtt(ep: operator.Endpoint, device: str, n: int = 200) -> float:
    with operator.Session(ep) as s:
        s.subscribe(topics.rpc_response(device))
        samples = []
        for _ in range(n):
            reqid = uuid.uuid4().hex[:12]
            req = {
                "method": "evp-c2d",
                "params": {
                    "direct-command-request": {
                        "reqid": reqid,
                        "method": "add",
                        "instance": "adder",
                        "params": {"args": [1, 2]},
                    }
                },
            }
            t0 = time.perf_counter()
            s.publish(topics.rpc_request(device, reqid), req)
            while True:
                msg = s.next(time.monotonic() + 10)
                assert msg is not None, "no answer"
                if msg.topic.endswith(reqid):
                    break
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--executor", choices=["exports", "pipeline"], default="exports")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ca = CertificateAuthority(tmp / "pki")
        ca.init()
        ca.issue("broker", kind="server", hosts=("127.0.0.1",))
        ca.issue(operator.OPERATOR, kind="operator")
        acl = tmp / "acl"
        acl.write_text(render_acl((operator.OPERATOR,)))
        port = free_port()
        cfg = BrokerConfig(
            port, ca.ca_cert_path, ca.cert_path("broker"), ca.key_path("broker"), ca.crl_path, acl
        )
        modules = []
        for i, offset in enumerate((0, 100)):
            p = tmp / f"m{i}.wasm"
            p.write_bytes(adder_wasm(offset))
            modules.append(p)
        ep = operator.operator_endpoint(ca.dir, "127.0.0.1", port)
        with Broker(cfg, tmp / "broker"):
            results["puback_rtt_ms"] = round(puback_rtt(ep) * 1000, 3)
            for count in args.agents:
                agents = [
                    AgentProcess(
                        ca,
                        f"bench-{count}-{i}",
                        port,
                        tmp / "agents" / f"{count}-{i}",
                        executor=args.executor,
                    )
                    for i in range(count)
                ]
                try:
                    starters = [threading.Thread(target=a.start) for a in agents]
                    for t in starters:
                        t.start()
                    for t in starters:
                        t.join()
                    for a in agents:
                        a.wait_connected(120)
                    names = [a.name for a in agents]
                    times = rollout_times(ep, names, modules, args.executor)
                    results[f"rollout_{count}_agents_s"] = {
                        "median": round(statistics.median(times), 3),
                        "all": [round(t, 3) for t in times],
                    }
                    if count == args.agents[0] and args.executor == "exports":
                        results["command_rtt_ms"] = round(command_rtt(ep, agents[0].name) * 1000, 3)
                finally:
                    for a in agents:
                        a.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
