"""The gateway: the C runtime as a native process (posix, the same device protocol as the
emulated MCU and a board on serial) on the fleet, driven through a real mosquitto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from build_tools.fleet import operator
from build_tools.fleet.operator import deployment_id_of
from build_tools.fleet.pki import CertificateAuthority
from build_tools.guests import build_guests
from build_tools.targets import load_target

from .conftest import RunningBroker, adder_wasm, manifest_for


def test_gateway_serves_a_c_runtime_device(
    broker: RunningBroker, ca: CertificateAuthority, agents: Any, tmp_path: Path
) -> None:
    built = build_guests(load_target("posix"))
    hello = next(built.directory / g.path for g in built.guests if g.name == "hello")
    gw = agents("mcu-posix", command=("-m", "build_tools", "gateway", "posix"))
    gw.wait_connected(timeout=600)  # the first run builds the posix runtime
    ep = broker.endpoint(ca, "operator")
    body = manifest_for({"hello": (hello.as_uri(), hello.read_bytes())}, {"h": "hello"})
    body["deploymentId"] = deployment_id_of(body)
    r = operator.publish(ep, body, ["mcu-posix"], wait=120)
    assert r.ok, r.devices
    reply = operator.command(ep, "mcu-posix", "h", "add", [2, 3])
    assert reply["status"] == "ok" and reply["response"]["value"] == 5
    # A module the wasm2c firmware does not hold cannot run there: refused, the old one stays.
    other = tmp_path / "adder.wasm"
    other.write_bytes(adder_wasm(1))
    body2 = manifest_for({"a": (other.as_uri(), other.read_bytes())}, {"h": "a"})
    body2["deploymentId"] = deployment_id_of(body2)
    r2 = operator.publish(ep, body2, ["mcu-posix"], wait=120)
    assert r2.devices["mcu-posix"]["reconcileStatus"] == "error"
    assert "not built into this wasm2c runtime" in r2.devices["mcu-posix"]["failure"]
    assert operator.command(ep, "mcu-posix", "h", "add", [2, 3])["response"]["value"] == 5
