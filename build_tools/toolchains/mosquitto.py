"""Adapter for the mosquitto MQTT broker: config rendering and argv (pure), and a managed process.

The fleet broker listens with TLS and requires a client certificate signed by the fleet CA
(`require_certificate`), checks the CA's revocation list (`crlfile`), and takes the certificate's
CN as the MQTT user name, which the ACL uses to keep each device inside `v1/devices/<CN>/`.
"""

from __future__ import annotations

import getpass
import logging
import socket
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ToolchainError
from .runner import require

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install mosquitto (or run: bash ci/setup.sh)"


@dataclass(frozen=True)
class BrokerConfig:
    port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    crlfile: Path | None
    acl_file: Path
    persistence_dir: Path | None = None
    bind_address: str = "127.0.0.1"
    # Started as root, mosquitto switches to this user (its default, "mosquitto", cannot read
    # files private to the caller): the caller's own name keeps it able to read them.
    user: str | None = None


def render_acl(operators: tuple[str, ...]) -> str:
    """Devices: only their own subtree. Operators: every device."""
    lines = [
        "# devices: the certificate CN is the user name",
        "pattern readwrite v1/devices/%u/#",
        "",
    ]
    for name in operators:
        lines += [f"user {name}", "topic readwrite v1/devices/#", ""]
    return "\n".join(lines)


def render_config(cfg: BrokerConfig) -> str:
    lines = [f"user {cfg.user}"] if cfg.user else []
    lines += [
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {cfg.acl_file}",
        f"listener {cfg.port} {cfg.bind_address}",
        f"cafile {cfg.cafile}",
        f"certfile {cfg.certfile}",
        f"keyfile {cfg.keyfile}",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        "set_tcp_nodelay true",  # results are small messages: no Nagle delay on the way out
    ]
    if cfg.crlfile is not None:
        lines.append(f"crlfile {cfg.crlfile}")
    if cfg.persistence_dir is not None:
        lines += [
            "persistence true",
            f"persistence_location {cfg.persistence_dir}/",
            "autosave_interval 1",
        ]
    lines += ["log_dest stderr", "log_type error", "log_type warning", "log_type notice", ""]
    return "\n".join(lines)


def broker_argv(mosquitto: str, config_file: Path) -> list[str]:
    return [mosquitto, "-c", str(config_file)]


class Broker:
    """One mosquitto process for a config; start/stop/restart (same port, same persistence)."""

    def __init__(self, cfg: BrokerConfig, workdir: Path) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.config_file = workdir / "mosquitto.conf"
        self.log_file = workdir / "mosquitto.log"

    def start(self, timeout: float = 10.0) -> None:
        exe = require("mosquitto", INSTALL_HINT)
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self.cfg if self.cfg.user else replace(self.cfg, user=getpass.getuser())
        self.config_file.write_text(render_config(cfg))
        argv = broker_argv(exe, self.config_file)
        log.debug("run: %s", " ".join(argv))
        with self.log_file.open("ab") as logf:
            self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise ToolchainError(f"mosquitto exited with {self.proc.returncode}:\n{tail}")
            try:
                with socket.create_connection((self.cfg.bind_address, self.cfg.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ToolchainError(f"mosquitto did not listen on port {self.cfg.port} in {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
