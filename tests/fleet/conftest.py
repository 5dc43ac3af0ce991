"""Fleet fixtures: a throwaway CA, a real mosquitto with a mutual-TLS listener on loopback, and
device agents as real processes (`python -m edge_runtime.fleet.agent`)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from build_tools import nnb
from build_tools.fleet import operator
from build_tools.fleet.pki import CertificateAuthority
from build_tools.toolchains.mosquitto import Broker, BrokerConfig, render_acl
from edge_runtime import native
from edge_runtime.fleet.mqtt import Endpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def adder_wasm(offset: int) -> bytes:
    """A tiny reactor module whose `add(a, b)` returns a + b + offset: tells versions apart."""
    return wasmtime.wat2wasm(
        f"""(module (memory (export "memory") 1)
          (func (export "add") (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add i32.const {offset} i32.add))"""
    )


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    ca = CertificateAuthority(tmp_path_factory.mktemp("pki"))
    ca.init()
    ca.issue("broker", kind="server", hosts=("127.0.0.1", "localhost"))
    ca.issue(operator.OPERATOR, kind="operator")
    return ca


@dataclass
class RunningBroker:
    broker: Broker
    port: int

    def endpoint(self, ca: CertificateAuthority, name: str) -> Endpoint:
        return Endpoint(
            "127.0.0.1", self.port, ca.ca_cert_path, ca.cert_path(name), ca.key_path(name)
        )


@pytest.fixture
def broker(ca: CertificateAuthority, tmp_path: Path) -> Iterator[RunningBroker]:
    acl = tmp_path / "acl"
    acl.write_text(render_acl((operator.OPERATOR,)))
    port = free_port()
    cfg = BrokerConfig(
        port=port,
        cafile=ca.ca_cert_path,
        certfile=ca.cert_path("broker"),
        keyfile=ca.key_path("broker"),
        crlfile=ca.crl_path,
        acl_file=acl,
        persistence_dir=tmp_path / "persist",
    )
    (tmp_path / "persist").mkdir()
    b = Broker(cfg, tmp_path / "broker")
    b.start()
    try:
        yield RunningBroker(b, port)
    finally:
        b.stop()


def device(ca: CertificateAuthority, name: str) -> str:
    if name not in ca.issued():
        ca.issue(name)
    return name


class AgentProcess:
    """One agent as a plain supervised process (what systemd runs on a Pi)."""

    def __init__(
        self,
        ca: CertificateAuthority,
        name: str,
        port: int,
        home: Path,
        command: tuple[str, ...] = ("-m", "edge_runtime.fleet.agent"),
        executor: str = "exports",
        **agent: Any,
    ) -> None:
        self.name = device(ca, name)
        self.command = command
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        settings = {"state_dir": "state", "telemetry_interval_s": 3600, **agent}
        lines = [
            "[broker]",
            'host = "127.0.0.1"',
            f"port = {port}",
            "[tls]",
            f'ca = "{ca.ca_cert_path}"',
            f'cert = "{ca.cert_path(name)}"',
            f'key = "{ca.key_path(name)}"',
            "[agent]",
            *(f"{k} = {json.dumps(v)}" for k, v in settings.items()),
            "[runtime]",
            'backend = "builtin"',
            f'executor = "{executor}"',
        ]
        self.config = home / "agent.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The agent process imports no build_tools: it gets libnnb as an installed runtime
        # would have it, by path (edge_runtime.native).
        env = {**os.environ, native.env_var("nnb"): str(nnb.build_library())}
        with (self.home / "agent.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.command, "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def health(self) -> dict[str, Any]:
        p = self.home / "state" / "health.json"
        return json.loads(p.read_text()) if p.is_file() else {}

    def wait_connected(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log_text()
            h = self.health()
            if h.get("connected") and h.get("pid") == self.proc.pid:
                return
            time.sleep(0.1)
        raise AssertionError(f"agent {self.name} did not connect:\n{self.log_text()}")

    def log_text(self) -> str:
        p = self.home / "agent.log"
        return p.read_text(errors="replace")[-3000:] if p.is_file() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def agents(ca: CertificateAuthority, broker: RunningBroker, tmp_path: Path) -> Iterator[Any]:
    started: list[AgentProcess] = []

    def start(name: str, **options: Any) -> AgentProcess:
        a = AgentProcess(ca, name, broker.port, tmp_path / "agents" / name, **options)
        a.start()
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()


def manifest_for(
    modules: dict[str, tuple[str, bytes]], instances: dict[str, str]
) -> dict[str, Any]:
    """An EVP manifest body: modules {id: (url, bytes)} (hash from the bytes), instances
    {name: moduleId}; deploymentId left for the tools to set."""
    return {
        "instanceSpecs": {
            n: {"moduleId": m, "publish": {}, "subscribe": {}} for n, m in instances.items()
        },
        "modules": {
            mid: {
                "moduleImpl": "wasm",
                "entryPoint": "main",
                "downloadUrl": url,
                "hash": hashlib.sha256(data).hexdigest(),
            }
            for mid, (url, data) in modules.items()
        },
        "publishTopics": {},
        "subscribeTopics": {},
    }
