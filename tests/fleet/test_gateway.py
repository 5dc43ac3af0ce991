"""The gateway: a C-runtime device on the fleet, driven through a real mosquitto. The same
test for the C runtime as a native process (posix) and the emulated MCU (qemu-rv32, a QEMU the
gateway starts and must end when it stops); both speak the same device protocol as a board on
a serial line."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from build_tools.fleet import operator
from build_tools.fleet.operator import deployment_id_of
from build_tools.fleet.pki import CertificateAuthority
from build_tools.guests import build_guests
from build_tools.targets import load_target

from .conftest import RunningBroker, adder_wasm, manifest_for


def descendants(pid: int) -> dict[int, str]:
    """Live (not zombie) descendants of a process: pid -> comm."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state != "Z":
            parents[int(entry.name)] = (int(ppid), comm)
    found: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {p for p, (pp, _) in parents.items() if pp in frontier and p not in found}
        found.update({p: parents[p][1] for p in frontier})
    return found


def gone(pids: set[int], timeout: float) -> set[int]:
    """Those of pids still alive after timeout seconds (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = set()
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2] != "Z":
                alive.add(pid)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["posix", "qemu-rv32"])
def test_gateway_serves_a_c_runtime_device(
    target: str,
    broker: RunningBroker,
    ca: CertificateAuthority,
    agents: Any,
    tmp_path: Path,
) -> None:
    built = build_guests(load_target(target))
    hello = next(built.directory / g.path for g in built.guests if g.name == "hello")
    device = f"mcu-{target}"
    gw = agents(device, command=("-m", "build_tools", "gateway", target))
    gw.wait_connected(timeout=600)  # the first run builds the runtime / firmware
    assert gw.proc is not None
    runtimes = descendants(gw.proc.pid)
    try:
        assert runtimes, "the gateway serves its device (runtime process or QEMU) as a child"
        ep = broker.endpoint(ca, "operator")
        body = manifest_for({"hello": (hello.as_uri(), hello.read_bytes())}, {"h": "hello"})
        body["deploymentId"] = deployment_id_of(body)
        r = operator.publish(ep, body, [device], wait=120)
        assert r.ok, r.devices
        reply = operator.command(ep, device, "h", "add", [2, 3])
        assert reply["status"] == "ok" and reply["response"]["value"] == 5
        # A module the wasm2c firmware does not hold cannot run there: refused, the old one stays.
        other = tmp_path / "adder.wasm"
        other.write_bytes(adder_wasm(1))
        body2 = manifest_for({"a": (other.as_uri(), other.read_bytes())}, {"h": "a"})
        body2["deploymentId"] = deployment_id_of(body2)
        r2 = operator.publish(ep, body2, [device], wait=120)
        assert r2.devices[device]["reconcileStatus"] == "error"
        assert "not built into this wasm2c runtime" in r2.devices[device]["failure"]
        assert operator.command(ep, device, "h", "add", [2, 3])["response"]["value"] == 5
    finally:
        gw.stop()
        # Stopping the gateway ends the device it started (the runtime process or QEMU).
        left = gone(set(runtimes), timeout=5.0)
        for pid in left:  # do not leave them to the next test, but fail
            os.kill(pid, signal.SIGKILL)
        assert not left, f"processes left after the gateway stopped: {left}"
