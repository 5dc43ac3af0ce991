"""Adapter for SSH (paramiko): connect with host-key checking, run commands, upload files.

Host keys are checked against a known_hosts file (default ~/.ssh/known_hosts); an unknown host
is refused unless `accept_new` (then its key is pinned in that file); a changed key is always
refused.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from edge_runtime.errors import DeviceError

log = logging.getLogger(__name__)

HOST_RE = re.compile(r"^(?P<user>[^@\s]+)@(?P<addr>\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class SshHost:
    user: str
    address: str
    port: int = 22

    def __str__(self) -> str:
        return f"{self.user}@{self.address}" + (f":{self.port}" if self.port != 22 else "")


def parse_host(text: str) -> SshHost:
    m = HOST_RE.match(text)
    if not m:
        raise DeviceError(f"--host {text!r}: expected user@address[:port]")
    return SshHost(m["user"], m["addr"].strip("[]"), int(m["port"] or 22))


def remote_command(argv: list[str]) -> str:
    """One shell command line for the remote side (every argument quoted)."""
    return " ".join(shlex.quote(a) for a in argv)


class _PinNew(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(self.known_hosts))
        log.warning(
            "pinned the host key of %s (%s) in %s", hostname, key.get_name(), self.known_hosts
        )


class SshSession:
    def __init__(
        self,
        host: SshHost,
        identity: Path | None = None,
        known_hosts: Path | None = None,
        accept_new: bool = False,
        timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.identity = identity
        self.known_hosts = known_hosts or Path.home() / ".ssh" / "known_hosts"
        self.accept_new = accept_new
        self.timeout = timeout
        self.client = paramiko.SSHClient()
        self._sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> SshSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self.known_hosts.is_file():
            self.client.load_host_keys(str(self.known_hosts))
        self.client.set_missing_host_key_policy(
            _PinNew(self.known_hosts) if self.accept_new else paramiko.RejectPolicy()
        )
        h = self.host
        try:
            self.client.connect(
                h.address,
                port=h.port,
                username=h.user,
                key_filename=str(self.identity) if self.identity else None,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                look_for_keys=self.identity is None,
                allow_agent=self.identity is None,
            )
        except paramiko.BadHostKeyException as e:
            self.client.close()
            raise DeviceError(
                f"{h}: the host key does not match the one in {self.known_hosts} "
                f"(got {e.key.get_name()} {e.key.get_fingerprint().hex()}): refused",
                hint="if the device was re-installed, remove its line from known_hosts",
            ) from e
        except paramiko.SSHException as e:
            self.client.close()
            if "not found in known_hosts" in str(e):
                raise DeviceError(
                    f"{h}: unknown host key (not in {self.known_hosts}): refused",
                    hint="check the fingerprint, then use --accept-new-host-key to pin it",
                ) from e
            raise DeviceError(f"{h}: SSH failed: {e}") from e
        except OSError as e:
            self.client.close()
            raise DeviceError(f"{h}: cannot connect: {e}") from e

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
            self._sftp = None
        self.client.close()

    def run(
        self, argv: list[str] | str, what: str, timeout: float = 600.0, check: bool = True
    ) -> tuple[int, str, str]:
        cmd = argv if isinstance(argv, str) else remote_command(argv)
        log.debug("ssh %s: %s", self.host, cmd)
        try:
            _, stdout, stderr = self.client.exec_command(cmd, timeout=timeout)
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            rc = stdout.channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise DeviceError(f"{self.host}: {what}: connection lost: {e}") from e
        if check and rc != 0:
            tail = "\n".join((err or out).strip().splitlines()[-12:])
            raise DeviceError(f"{self.host}: {what} failed (exit {rc}):\n{tail}")
        return rc, out, err

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
        return self._sftp

    def put(
        self,
        local: Path,
        remote: str,
        progress: Callable[[int, int], None] | None = None,
        mode: int | None = None,
    ) -> None:
        try:
            self.sftp.put(str(local), remote, callback=progress)
            if mode is not None:
                self.sftp.chmod(remote, mode)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise DeviceError(f"{self.host}: upload of {local.name} failed: {e}") from e

    def mkdirs(self, remote_dirs: list[str]) -> None:
        self.run(["mkdir", "-p", *remote_dirs], "mkdir")
