"""How the agent runs as a service on a device, behind one small interface (install, restart,
stop, is_running): systemd on a Raspberry Pi, or a plain supervised process where there is no
systemd (containers, the test machine). Chosen by name from SERVICE_MANAGERS.

Both run `ROOT/current/venv/bin/python -m edge_runtime.fleet.agent --config ROOT/current/agent.toml`,
so switching the `current` link and restarting is the whole activation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

UNIT_NAME = "build-tools-agent.service"


def agent_argv(root: Path) -> list[str]:
    current = root / "current"
    return [
        str(current / "venv" / "bin" / "python"),
        "-m",
        "edge_runtime.fleet.agent",
        "--config",
        str(current / "agent.toml"),
    ]


def render_unit(root: Path) -> str:
    return "\n".join(
        [
            "[Unit]",
            "Description=build_tools device agent (wasm deployments over MQTT)",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            f"ExecStart={' '.join(agent_argv(root))}",
            f"WorkingDirectory={root}",
            "Restart=always",
            "RestartSec=2",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


class ServiceManager(ABC):
    def __init__(self, root: Path) -> None:
        self.root = root

    @abstractmethod
    def install(self) -> None: ...

    @abstractmethod
    def restart(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...


class SystemdService(ServiceManager):
    unit_dir = Path("/etc/systemd/system")

    def _systemctl(self, *args: str) -> None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        subprocess.run([*sudo, "systemctl", *args], check=True, capture_output=True, text=True)

    def install(self) -> None:
        unit = render_unit(self.root)
        path = self.unit_dir / UNIT_NAME
        if not path.is_file() or path.read_text() != unit:
            if os.geteuid() == 0:
                path.write_text(unit)
            else:
                subprocess.run(
                    ["sudo", "-n", "tee", str(path)],
                    input=unit,
                    text=True,
                    check=True,
                    capture_output=True,
                )
            self._systemctl("daemon-reload")
        self._systemctl("enable", UNIT_NAME)

    def restart(self) -> None:
        self._systemctl("restart", UNIT_NAME)

    def stop(self) -> None:
        self._systemctl("stop", UNIT_NAME)


class ProcessService(ServiceManager):
    """A supervisor process (`python -m edge_runtime.fleet.device supervise`) started in its own
    session, restarting the agent when it exits; its pid is in ROOT/run/supervisor.pid."""

    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "supervisor.pid"

    def install(self) -> None:
        (self.root / "run").mkdir(parents=True, exist_ok=True)

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def restart(self) -> None:
        self.stop()
        python = self.root / "current" / "venv" / "bin" / "python"
        with (self.root / "run" / "supervisor.log").open("ab") as log:
            proc = subprocess.Popen(
                [
                    str(python),
                    "-m",
                    "edge_runtime.fleet.device",
                    "supervise",
                    "--root",
                    str(self.root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))

    def stop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                # reap it if it is our child (not the case across deploys, harmless otherwise)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            except OSError:
                break
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)


SERVICE_MANAGERS: dict[str, type[ServiceManager]] = {
    "systemd": SystemdService,
    "process": ProcessService,
}


def supervise(root: Path) -> int:
    """Runs the agent of ROOT/current, restarting it (with a growing delay) when it exits;
    SIGTERM stops the agent and then the supervisor."""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, on_term)
    delay = 1.0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(
            agent_argv(root), stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=sys.stderr
        )
        child.wait()
        if stopping:
            break
        delay = 1.0 if time.monotonic() - started > 30 else min(delay * 2, 30.0)
        time.sleep(delay)
    return 0
