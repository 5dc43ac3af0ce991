"""A real OpenSSH server on a loopback port for the deploy tests: its own host key, a throwaway
client key authorized through an authorized_keys file only this server reads (the account is
the one running the tests; nothing of the machine's SSH set-up is touched)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SSHD = "/usr/sbin/sshd"


def write_keypair(path: Path) -> str:
    """An ed25519 key in OpenSSH format at `path`; returns the public key line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def render_config(
    port: int, host_key: Path, pid_file: Path, authorized_keys: Path, user: str
) -> str:
    """An sshd_config for one loopback port, one user, key authentication only; the paths are
    as sshd sees them (inside the rootfs for the emulated Pi)."""
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"PidFile {pid_file}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {user}",
            "StrictModes no",
            "UsePAM no",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


class Sshd:
    def __init__(self, workdir: Path, port: int) -> None:
        self.dir = workdir
        self.port = port
        workdir.mkdir(parents=True, exist_ok=True)
        self.host_key = workdir / "host_ed25519"
        self.host_public = write_keypair(self.host_key)
        self.client_key = workdir / "client_ed25519"
        (workdir / "authorized_keys").write_text(write_keypair(self.client_key) + "\n")
        self.user = getpass.getuser()
        self.proc: subprocess.Popen[bytes] | None = None

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public}\n"

    def start(self) -> None:
        if os.geteuid() == 0:
            # sshd's privilege-separation directory; what the Debian service creates at start.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        cfg = self.dir / "sshd_config"
        cfg.write_text(
            render_config(
                self.port,
                self.host_key,
                self.dir / "sshd.pid",
                self.dir / "authorized_keys",
                self.user,
            )
        )
        assert shutil.which(SSHD) or Path(SSHD).exists(), (
            "openssh-server is installed by ci/setup.sh"
        )
        self.log = self.dir / "sshd.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("sshd did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
