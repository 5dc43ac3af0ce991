"""`deploy` over real SSH (OpenSSH on a loopback port) to this machine as the device: release
side by side, no-op re-deploy, upgrade, rollback, a connection cut mid-deploy, host keys.

There is no systemd here: the service manager is the `process` adapter (a supervised process
started in its own session), the same interface systemd implements on a Pi.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from build_tools.cli import run as cli_run
from build_tools.fleet import operator
from build_tools.fleet.deploy import device_requirements
from build_tools.fleet.pki import CertificateAuthority
from build_tools.paths import build_root, find_model
from build_tools.toolchains import pip
from build_tools.toolchains.runner import run as run_local
from edge_runtime.host.backends import get_backend

from .conftest import RunningBroker, free_port
from .sshd import Sshd, write_keypair

DEVICE = "pi-loop"


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """The device's dependency wheels for this machine's platform (downloaded once, cached
    under build/), so the device installs offline like a Pi without network would."""
    out = build_root() / "fleet" / f"wheelhouse-{os.uname().machine}"
    reqs = out / "requirements.txt"
    wanted = "\n".join(device_requirements("builtin")) + "\n"
    if not reqs.is_file() or reqs.read_text() != wanted:
        out.mkdir(parents=True, exist_ok=True)
        for p in out.glob("*.whl"):
            p.unlink()
        reqs.write_text(wanted)
        run_local(pip.download_argv(sys.executable, reqs, out), "downloading the device wheels")
    return out


@dataclass
class Device:
    sshd: Sshd
    root: Path
    known_hosts: Path

    def argv(self, *extra: str, broker_port: int, pki: Path) -> list[str]:
        return [
            "deploy",
            "rpi4",
            "--host",
            f"{self.sshd.user}@127.0.0.1:{self.sshd.port}",
            "--identity",
            str(self.sshd.client_key),
            "--known-hosts",
            str(self.known_hosts),
            "--root",
            str(self.root),
            "--device",
            DEVICE,
            "--pki",
            str(pki),
            "--broker",
            f"127.0.0.1:{broker_port}",
            "--service",
            "process",
            "--backend",
            "builtin",
            "--python",
            "/usr/bin/python3",
            "--arch",
            os.uname().machine,  # the loopback "Pi" is this machine: its runtime wheel
            "--json",
            *extra,
        ]

    def current(self) -> str | None:
        link = self.root / "current"
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def health(self) -> dict[str, Any]:
        p = self.root / "state" / "health.json"
        return json.loads(p.read_text()) if p.is_file() else {}

    def stop_service(self) -> None:
        pid_file = self.root / "run" / "supervisor.pid"
        if not pid_file.is_file():
            return
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def device(tmp_path: Path, ca: CertificateAuthority) -> Iterator[Device]:
    if DEVICE not in ca.issued():
        ca.issue(DEVICE)
    sshd = Sshd(tmp_path / "sshd", free_port())
    sshd.start()
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    dev = Device(sshd, tmp_path / "device", known)
    try:
        yield dev
    finally:
        dev.stop_service()
        sshd.stop()


# Run with the release's own Python: no build_tools there, and the builtin backend runs on the
# packaged libnnb (no compiler on PATH); the logits are those of the in-tree backend.
RELEASE_CHECK = """
import importlib.util, json, sys
import numpy as np
from edge_runtime import native
from edge_runtime.host.backends import get_backend
assert importlib.util.find_spec("build_tools") is None, "build_tools is installed"
graph = get_backend("builtin").load(open(sys.argv[1], "rb").read())
ctx = graph.new_context()
ctx.set_input(0, np.arange(graph.inputs[0].size, dtype=graph.inputs[0].dtype))
ctx.invoke()
print(json.dumps({"lib": str(native.library_path("nnb")), "out": ctx.get_output(0).tolist()}))
"""


def assert_runtime_only_release(release: Path) -> None:
    venv = release / "venv"
    assert not [p for p in venv.rglob("build_tools") if p.is_dir()]
    model = find_model("hello_world_int8")
    assert model is not None
    empty = release.parent / "empty-path"
    empty.mkdir(exist_ok=True)
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", RELEASE_CHECK, str(model)],
        capture_output=True,
        text=True,
        env={"PATH": str(empty), "HOME": str(release)},
        cwd=release,  # not the checkout: python -c puts the working directory on sys.path
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["lib"].startswith(str(venv.resolve())) and got["lib"].endswith(
        "edge_runtime/_native/libnnb.so"
    )
    graph = get_backend("builtin").load(model.read_bytes())
    ctx = graph.new_context()
    ctx.set_input(0, np.arange(graph.inputs[0].size, dtype=graph.inputs[0].dtype))
    ctx.invoke()
    assert got["out"] == ctx.get_output(0).tolist()


def deploy(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any]]:
    code = cli_run(argv)
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else {"stderr": out.err}


def test_deploy_redeploy_upgrade_rollback(
    device: Device,
    broker: RunningBroker,
    ca: CertificateAuthority,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = device.argv("--wheelhouse", str(wheelhouse), broker_port=broker.port, pki=ca.dir)
    code, first = deploy(capsys, [*base, "--no-models"])
    assert code == 0, first
    assert first["action"] == "activated"
    a = first["release"]
    assert device.current() == a
    assert first["health"]["release"] == a and first["health"]["version"]
    # The deployed agent is on the fleet: connected over mutual TLS with the device certificate.
    deadline = time.monotonic() + 20
    while not device.health().get("connected"):
        assert time.monotonic() < deadline, "the deployed agent did not connect to the broker"
        time.sleep(0.2)
    rep = operator.reported(broker.endpoint(ca, "operator"), [DEVICE])[DEVICE]
    assert rep["agent"]["release"] == a and rep["online"] is True
    assert_runtime_only_release(device.root / "current")

    pid = device.health()["pid"]
    code, again = deploy(capsys, [*base, "--no-models"])
    assert code == 0 and again["action"] == "unchanged" and again["release"] == a
    assert device.health()["pid"] == pid, "a no-op re-deploy must not restart the agent"

    code, upgraded = deploy(capsys, base)  # with the models: another release
    assert code == 0, upgraded
    b = upgraded["release"]
    assert b != a and device.current() == b
    assert (device.root / "releases" / a).is_dir(), "releases are kept side by side"
    assert sorted(p.name for p in (device.root / "current" / "models").iterdir())

    code, back = deploy(capsys, [*device.argv(broker_port=broker.port, pki=ca.dir), "--rollback"])
    assert code == 0, back
    assert back["action"] == "rolled-back" and back["release"] == a
    assert device.current() == a and device.health()["release"] == a


def test_connection_cut_mid_deploy_keeps_the_previous_release(
    device: Device,
    broker: RunningBroker,
    ca: CertificateAuthority,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = device.argv(
        "--wheelhouse", str(wheelhouse), "--no-models", broker_port=broker.port, pki=ca.dir
    )
    code, first = deploy(capsys, base)
    assert code == 0, first
    a, pid = first["release"], device.health()["pid"]
    # Another release (a different broker address in its config), killed while uploading.
    other = device.argv(
        "--wheelhouse", str(wheelhouse), "--no-models", broker_port=broker.port + 1, pki=ca.dir
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "build_tools", *other],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        partial = [
            p
            for p in (device.root / "releases").glob("*.partial")
            if any((p / "wheels").glob("*.whl"))
        ]
        if partial:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert partial, "the upload should have been under way when the connection was cut"
    time.sleep(1.0)
    assert device.current() == a
    h = device.health()
    assert h["release"] == a and h["pid"] == pid
    os.kill(pid, 0)  # still running
    # The next deploy of that release starts over and completes.
    code, done = deploy(capsys, other)
    assert code == 0, done
    assert done["release"] != a and device.current() == done["release"]
    assert not list((device.root / "releases").glob("*.partial"))


def test_a_release_whose_agent_does_not_come_up_is_switched_back(
    device: Device,
    broker: RunningBroker,
    ca: CertificateAuthority,
    wheelhouse: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = device.argv(
        "--wheelhouse", str(wheelhouse), "--no-models", broker_port=broker.port, pki=ca.dir
    )
    code, first = deploy(capsys, base)
    assert code == 0, first
    a = first["release"]
    # A device certificate with someone else's key: the new agent cannot start.
    for name in ("pi-badkey", "pi-otherkey"):
        if name not in ca.issued():
            ca.issue(name)
    ca.key_path("pi-badkey").write_bytes(ca.key_path("pi-otherkey").read_bytes())
    bad = [*base, "--timeout", "8"]
    bad[bad.index("--device") + 1] = "pi-badkey"
    code, failed = deploy(capsys, bad)
    assert code == 2
    assert "did not start" in failed["stderr"] and f"went back to {a}" in failed["stderr"]
    assert device.current() == a
    h = device.health()
    assert h["release"] == a
    os.kill(h["pid"], 0)


def test_wrong_host_key_is_refused(
    device: Device, ca: CertificateAuthority, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    impostor = write_keypair(tmp_path / "impostor")
    device.known_hosts.write_text(f"[127.0.0.1]:{device.sshd.port} {impostor}\n")
    assert cli_run([*device.argv(broker_port=1, pki=ca.dir), "--rollback"]) == 2
    err = capsys.readouterr().err
    assert "the host key does not match the one in" in err
    assert not device.root.exists()


def test_unknown_host_key_is_refused_unless_pinned(
    device: Device, ca: CertificateAuthority, capsys: pytest.CaptureFixture[str]
) -> None:
    device.known_hosts.write_text("")
    argv = [*device.argv(broker_port=1, pki=ca.dir), "--rollback"]
    assert cli_run(argv) == 2
    assert "unknown host key" in capsys.readouterr().err
    # Pinned on first use; then the (empty) device has nothing to roll back to.
    assert cli_run([*argv, "--accept-new-host-key"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    assert f"[127.0.0.1]:{device.sshd.port}" in device.known_hosts.read_text()


def test_dry_run_prints_the_plan(
    device: Device, ca: CertificateAuthority, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, plan = deploy(
        capsys,
        [*device.argv("--wheelhouse", str(wheelhouse), broker_port=1, pki=ca.dir), "--dry-run"],
    )
    assert code == 0
    paths = {f["path"] for f in plan["files"]}
    assert {"agent.toml", "tls/device.crt", "tls/device.key", "device-requirements.txt"} <= paths
    assert any(p.startswith("guests/") for p in paths) and any(
        p.startswith("models/") for p in paths
    )
    assert any("venv" in step for step in plan["steps"])
    assert not device.root.exists()
