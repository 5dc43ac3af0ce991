"""Pure parts of the fleet code: argv and config builders, deployment ids, the outbox."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from build_tools.fleet.deploy import agent_config, device_requirements
from build_tools.fleet.operator import deployment_id_of
from build_tools.targets import load_target
from build_tools.toolchains import pip
from build_tools.toolchains.mosquitto import BrokerConfig, broker_argv, render_acl, render_config
from build_tools.toolchains.ssh import SshHost, parse_host, remote_command
from edge_runtime.deployment import ModuleSpec
from edge_runtime.errors import DeviceError
from edge_runtime.fleet.agent import AgentConfig, fetch_module
from edge_runtime.fleet.outbox import Outbox
from edge_runtime.fleet.service import render_unit


def body(**over: object) -> dict[str, object]:
    b: dict[str, object] = {"deploymentId": "d1", "instanceSpecs": {}, "modules": {}}
    b.update(over)
    return b


def test_deployment_id_ignores_its_own_field() -> None:
    assert deployment_id_of(body()) == deployment_id_of(body(deploymentId="other"))
    assert deployment_id_of(body()) != deployment_id_of(body(publishTopics={"k": {}}))


def test_outbox_is_bounded_and_survives_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path, max_messages=3)
    for i in range(5):
        box.put("t", {"i": i})
    assert len(box) == 3 and box.dropped == 2
    sent: list[tuple[str, dict[str, object]]] = []
    reopened = Outbox(tmp_path, max_messages=3)
    mids = iter(range(100, 200))

    def publish(topic: str, payload: bytes) -> int:
        sent.append((topic, json.loads(payload)))
        return next(mids)

    reopened.pump(publish)
    assert [p["seq"] for _, p in sent] == [2, 3, 4]
    reopened.pump(publish)
    assert len(sent) == 3, "messages handed out are not sent again before their PUBACK"
    reopened.on_ack(101)
    reopened.pump(None)
    assert len(reopened) == 2
    assert Outbox(tmp_path).put("t", {}) == 5, "sequence numbers continue across restarts"


def test_ssh_host_parsing() -> None:
    assert parse_host("pi@10.0.0.7") == SshHost("pi", "10.0.0.7", 22)
    assert parse_host("pi@[::1]:2222") == SshHost("pi", "::1", 2222)
    with pytest.raises(DeviceError, match="expected user@address"):
        parse_host("10.0.0.7")


def test_argv_builders() -> None:
    assert remote_command(["mkdir", "-p", "/a b"]) == "mkdir -p '/a b'"
    assert pip.venv_argv("python3", "/r/venv") == ["python3", "-m", "venv", "/r/venv"]
    assert pip.install_requirements_argv("/v/python", "/r/req.txt", "/r/wheels") == [
        "/v/python",
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--find-links",
        "/r/wheels",
        "-r",
        "/r/req.txt",
    ]
    assert pip.install_requirements_argv("/v/python", "/r/req.txt", None) == [
        "/v/python",
        "-m",
        "pip",
        "install",
        "-q",
        "-r",
        "/r/req.txt",
    ]
    assert broker_argv("/usr/sbin/mosquitto", Path("/c.conf")) == [
        "/usr/sbin/mosquitto",
        "-c",
        "/c.conf",
    ]


def test_broker_config_requires_client_certificates() -> None:
    cfg = BrokerConfig(
        8883,
        Path("/p/ca.crt"),
        Path("/p/b.crt"),
        Path("/p/b.key"),
        Path("/p/crl.pem"),
        Path("/p/acl"),
        user="me",
    )
    lines = render_config(cfg).splitlines()
    for line in (
        "user me",
        "allow_anonymous false",
        "require_certificate true",
        "use_identity_as_username true",
        "crlfile /p/crl.pem",
        "listener 8883 127.0.0.1",
    ):
        assert line in lines
    assert "pattern readwrite v1/devices/%u/#" in render_acl(("operator",)).splitlines()


def test_systemd_unit_runs_the_current_release() -> None:
    unit = render_unit(Path("/opt/bt"))
    assert (
        "ExecStart=/opt/bt/current/venv/bin/python -m edge_runtime.fleet.agent --config /opt/bt/current/agent.toml"
        in unit
    )
    assert "Restart=always" in unit


def test_device_requirements_are_the_project_pins() -> None:
    reqs = device_requirements("litert")
    names = sorted(r.split("==")[0] for r in reqs)
    assert names == ["ai-edge-litert", "cryptography", "numpy", "paho-mqtt", "pyserial", "wasmtime"]
    assert all("==" in r for r in reqs)
    assert "ai-edge-litert" not in " ".join(device_requirements("builtin"))
    # An extra of the runtime (tflm) comes with its pin and marker, without the extra clause.
    tflm = [r for r in device_requirements("tflm") if r.startswith("tflite-micro==")]
    assert len(tflm) == 1 and "extra" not in tflm[0] and "platform_machine" in tflm[0]


def test_deployed_agent_config_read_through_current_keeps_state_under_the_root(
    tmp_path: Path,
) -> None:
    """deploy's agent.toml is read as ROOT/current/agent.toml and says state_dir "../../state":
    the agent's state (and the modules it downloads) must land in ROOT/state, also for code that
    normalises paths lexically (tempfile). Found on the emulated Pi, where the lexical reading
    (a directory beside ROOT) is not writable."""
    root = tmp_path / "install" / "root"
    release = root / "releases" / "r1"
    release.mkdir(parents=True)
    (root / "current").symlink_to(Path("releases") / "r1")
    (release / "agent.toml").write_text(
        agent_config(("127.0.0.1", 8883), "r1", load_target("rpi4"), "litert")
    )
    cfg = AgentConfig.load(root / "current" / "agent.toml")
    assert cfg.state_dir.resolve() == (root / "state").resolve()
    module = tmp_path / "m.wasm"
    module.write_bytes(b"\0asm\1\0\0\0")
    spec = ModuleSpec(
        "m", "wasm", "main", module.as_uri(), hashlib.sha256(module.read_bytes()).hexdigest()
    )
    got = fetch_module(spec, cfg.state_dir / "modules", 5.0)
    assert got.read_bytes() == module.read_bytes()
    assert got.resolve().parent == (root / "state" / "modules").resolve()
    assert not (tmp_path / "install" / "state").exists()
    # The other paths too: the files of the release the agent was started from.
    assert cfg.endpoint.cafile == release.resolve() / "tls" / "ca.crt"
