"""The slow fleet tier on the emulated Raspberry Pi (`bash ci/emulated_pi_fleet.sh`, not part of
the default CI): a real OpenSSH server runs inside the arm64 rootfs under qemu-user (a chroot
shares the network namespace, so it listens on a loopback port), and from the x86 side the
user's commands run unchanged, through the CLI only:

    deploy rpi4 --host pi@127.0.0.1:PORT --identity KEY --accept-new-host-key   (first, again)
    fleet broker / fleet publish manifest.json / fleet status                    (EVP pipeline)
    deploy rpi4 ... --no-models   (a second release)   then   deploy rpi4 ... --rollback

and prints how long each took. Every process it starts (sshd, broker, module server; the agent
through its supervisor) is stopped by its PID at the end.

    python -m tests.fleet.emulated_pi ROOTFS [--work DIR]     (as root; the rootfs is set up)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deployment.conftest import manifest

from .conftest import free_port
from .sshd import render_config, write_keypair

USER = "pi"
DEVICE = "emulated-pi"
TARGET = "rpi4"
IN_ROOTFS = Path("/srv/emulated-pi")  # the run's sshd files, as the chroot sees them
SOURCE_COUNT = 5  # messages the EVP source sends; the sink reports the last one


@dataclass(frozen=True)
class Run:
    """One run's fixed facts: where things are and which loopback ports they use."""

    rootfs: Path
    work: Path  # x86 side: PKI, keys, known_hosts, manifest, logs
    ssh_port: int
    broker_port: int
    http_port: int
    install_dir: str  # the target's connection.install_dir

    @property
    def identity(self) -> Path:
        return self.work / "client_ed25519"

    @property
    def pki(self) -> Path:
        return self.work / "pki"

    @property
    def broker(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    def in_rootfs(self, path: Path | str) -> Path:
        """The x86-side path of a path inside the rootfs."""
        return self.rootfs / str(path).lstrip("/")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "build_tools", *args]


def chroot_argv(rootfs: Path, argv: Sequence[str]) -> list[str]:
    return ["chroot", str(rootfs), *argv]


def sshd_argv(rootfs: Path) -> list[str]:
    return chroot_argv(rootfs, ["/usr/sbin/sshd", "-D", "-e", "-f", str(IN_ROOTFS / "sshd_config")])


def user_setup_script(user: str, install_dir: str) -> str:
    """Inside the rootfs: the device's login user and its install directory (what a Pi image's
    first boot does), and sshd's privilege-separation directory."""
    return (
        f"id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}; "
        # no password, but not locked: sshd without PAM refuses a locked account's keys too
        f"usermod -p '*' {user}; "
        f"mkdir -p {install_dir} /run/sshd && chown {user}: {install_dir}"
    )


def deploy_argv(run: Run, *extra: str) -> list[str]:
    """`deploy` as the user types it, plus the fleet options this run needs (its own PKI,
    known_hosts and broker port; no systemd in a chroot, so the `process` service)."""
    return cli(
        "deploy",
        TARGET,
        "--host",
        f"{USER}@127.0.0.1:{run.ssh_port}",
        "--identity",
        str(run.identity),
        "--accept-new-host-key",
        "--known-hosts",
        str(run.work / "known_hosts"),
        "--pki",
        str(run.pki),
        "--device",
        DEVICE,
        "--broker",
        run.broker,
        "--service",
        "process",
        "--timeout",
        "600",
        *extra,
    )


def fleet_argv(run: Run, *args: str) -> list[str]:
    return cli("fleet", *args, "--pki", str(run.pki), "--broker", run.broker)


def pipeline_manifest(modules: dict[str, Path], base_url: str) -> dict[str, Any]:
    """The EVP source -> sink deployment of the host pipeline tests, its modules downloaded
    from base_url/<file name> (what the module server on the x86 side serves)."""
    m = manifest(
        modules,
        {
            "src": ("evp_source", {"out": "numbers"}, {}),
            "sink": ("evp_sink", {}, {"in": "numbers"}),
        },
        {"src": {"config": {"count": SOURCE_COUNT}}},
    )
    body = m["deployment"]
    del body["deploymentId"]  # set by `fleet publish` (the body's hash)
    for mid, entry in body["modules"].items():
        entry["downloadUrl"] = f"{base_url}/{modules[mid].name}"
    return m


def pipeline_done(seen: dict[str, Any]) -> bool:
    """The sink's state once it received every message of the source."""
    last = SOURCE_COUNT - 1
    return bool(seen.get("state/sink/received") == f"n={SOURCE_COUNT} topic=in last={last}")


def processes_rooted_at(rootfs: Path) -> list[int]:
    """PIDs of the processes whose root directory is the rootfs (everything started in it)."""
    want = os.path.realpath(rootfs)
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(p / "root") == want:
                    found.append(int(p.name))
    return sorted(found)


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


class Scenario:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.procs: list[tuple[str, subprocess.Popen[bytes], list[int]]] = []
        self.timings: list[tuple[str, float]] = []

    # -- processes ---------------------------------------------------------------------------
    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.run.work / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc, []))
        print(f"[emulated-pi] started {name} (pid {proc.pid})", flush=True)
        return proc

    def wait_port(self, name: str, port: int, timeout: float = 120.0) -> None:
        import socket

        proc = next(p for n, p, _ in self.procs if n == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited: {(self.run.work / f'{name}.log').read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.2)
        raise SystemExit(f"{name} did not listen on {port} in {timeout:.0f} s")

    def cmd(self, label: str, argv: list[str], timed: bool = True, echo: bool = True) -> str:
        print(f"[emulated-pi] $ {' '.join(argv[1:])}", flush=True)
        t0 = time.monotonic()
        # stderr (deploy's upload progress, errors) goes straight to this run's output.
        r = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
        if echo or r.returncode != 0:
            sys.stdout.write(r.stdout)
        sys.stdout.flush()
        if r.returncode != 0:
            raise SystemExit(f"[emulated-pi] {label} failed (exit {r.returncode})")
        if timed:
            self.timings.append((label, dt))
            print(f"[emulated-pi] {label}: {dt:.1f} s", flush=True)
        return r.stdout

    def cleanup(self) -> None:
        supervisor = self.run.in_rootfs(f"{self.run.install_dir}/run/supervisor.pid")
        with contextlib.suppress(OSError, ValueError):
            stop_pid(int(supervisor.read_text()))  # stops the agent, then itself
        for name, proc, kids in reversed(self.procs):
            kids = children_of(proc.pid)
            if proc.poll() is None:
                # `fleet broker` stops mosquitto on Ctrl-C; the others on SIGTERM.
                stop_pid(proc.pid, signal.SIGINT if name == "broker" else signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            for k in kids:
                stop_pid(k)
            print(f"[emulated-pi] stopped {name} (pid {proc.pid})", flush=True)
        left = processes_rooted_at(self.run.rootfs)
        for pid in left:  # sshd's session children, a step still running: all ours
            stop_pid(pid)
        if left:
            print(f"[emulated-pi] stopped {len(left)} leftover process(es) in the rootfs: {left}")

    def agent_pid(self) -> int:
        """The agent's pid as the device's health file says (read from the x86 side)."""
        health = self.run.in_rootfs(f"{self.run.install_dir}/state/health.json")
        return int(json.loads(health.read_text())["pid"])

    # -- the scenario ------------------------------------------------------------------------
    def prepare(self) -> None:
        r = self.run
        r.work.mkdir(parents=True, exist_ok=True)
        # A fresh CA, host key and known_hosts every run, as on a first set-up.
        (r.work / "known_hosts").unlink(missing_ok=True)
        shutil.rmtree(r.pki, ignore_errors=True)
        subprocess.run(
            chroot_argv(r.rootfs, ["/bin/sh", "-c", user_setup_script(USER, r.install_dir)]),
            check=True,
        )
        # A fresh device each run: the first deploy downloads and installs everything (a later
        # release's venv then installs from pip's cache, as on a real device).
        fresh = f"rm -rf {r.install_dir}/* /home/{USER}/.cache/pip"
        subprocess.run(chroot_argv(r.rootfs, ["/bin/sh", "-c", fresh]), check=True)
        inside = r.in_rootfs(IN_ROOTFS)
        inside.mkdir(parents=True, exist_ok=True)
        write_keypair(inside / "host_ed25519")
        (inside / "authorized_keys").write_text(write_keypair(r.identity) + "\n")
        (inside / "sshd_config").write_text(
            render_config(
                r.ssh_port,
                IN_ROOTFS / "host_ed25519",
                IN_ROOTFS / "sshd.pid",
                IN_ROOTFS / "authorized_keys",
                USER,
            )
        )

    def main(self) -> None:
        r = self.run
        from build_tools.fleet import operator
        from build_tools.guests import build_evp_modules
        from build_tools.targets import load_target
        from edge_runtime.fleet import topics

        self.prepare()
        self.start("sshd", sshd_argv(r.rootfs))
        self.wait_port("sshd", r.ssh_port)
        self.cmd("ca", cli("fleet", "ca", "init", "--pki", str(r.pki)), timed=False)
        self.cmd("cert", cli("fleet", "cert", "issue", DEVICE, "--pki", str(r.pki)), timed=False)
        self.start("broker", fleet_argv(r, "broker"))
        self.wait_port("broker", r.broker_port)

        self.cmd("plan (deploy --dry-run: wheel, guests)", deploy_argv(r, "--dry-run"))
        self.cmd("deploy (first, fresh device)", deploy_argv(r))
        pid = self.agent_pid()
        out = self.cmd("re-deploy (same release)", deploy_argv(r))
        if not out.startswith("unchanged:") or self.agent_pid() != pid:
            raise SystemExit(f"[emulated-pi] re-deploy changed something: {out}")
        first = out.split()[2]

        mods = build_evp_modules(load_target(TARGET))
        used = {m: mods[m] for m in ("evp_source", "evp_sink")}
        manifest_file = r.work / "manifest.json"
        base_url = f"http://127.0.0.1:{r.http_port}"
        manifest_file.write_text(json.dumps(pipeline_manifest(used, base_url), indent=2))
        served = next(iter(used.values())).parent
        self.start(
            "modules",
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                str(served),
                str(r.http_port),
            ],
        )
        self.wait_port("modules", r.http_port)

        ep = operator.operator_endpoint(r.pki, "127.0.0.1", r.broker_port)
        seen: dict[str, Any] = {}
        with operator.Session(ep) as s:
            s.subscribe(topics.telemetry(DEVICE))
            t0 = time.monotonic()
            out = self.cmd(
                "publish -> ok (CLI wall time)",
                fleet_argv(
                    r, "publish", str(manifest_file), "--devices", DEVICE, "--wait", "600", "--json"
                ),
            )
            rollout = json.loads(out)
            if rollout["devices"][DEVICE]["reconcileStatus"] != "ok":
                raise SystemExit(f"[emulated-pi] the deployment failed: {rollout}")
            self.timings.append(("publish -> ok (as fleet publish measures)", rollout["seconds"]))
            deadline = time.monotonic() + 300
            while not pipeline_done(seen) and (msg := s.next(deadline)) is not None:
                seen.update(json.loads(msg.payload))
            self.timings.append(("publish -> sink received all", time.monotonic() - t0))
        if not pipeline_done(seen):
            raise SystemExit(f"[emulated-pi] the pipeline's state did not arrive: {seen}")
        print(f"[emulated-pi] telemetry: {json.dumps(seen, sort_keys=True)}")
        status = json.loads(
            self.cmd("status", fleet_argv(r, "status", "--json"), timed=False, echo=False)
        )
        dev = status[DEVICE]
        if dev["deploymentStatus"]["reconcileStatus"] != "ok" or not dev.get("online"):
            raise SystemExit(f"[emulated-pi] status is not ok: {dev}")

        out = self.cmd("deploy (second release, --no-models)", deploy_argv(r, "--no-models"))
        second = out.split()[2]
        out = self.cmd("rollback", deploy_argv(r, "--rollback"))
        if out.split()[2] != first or first == second:
            raise SystemExit(f"[emulated-pi] rollback went to {out.split()[2]}, not {first}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            dev = json.loads(
                self.cmd("status", fleet_argv(r, "status", "--json"), timed=False, echo=False)
            )[DEVICE]
            if str(dev.get("agent", {}).get("release", "")).startswith(first[:12]):
                break
            time.sleep(2)
        else:
            raise SystemExit(f"[emulated-pi] after the rollback the agent reports {dev}")
        if dev["deploymentStatus"]["reconcileStatus"] != "ok":
            raise SystemExit(f"[emulated-pi] after the rollback the deployment is not ok: {dev}")
        self.cmd("status", fleet_argv(r, "status"), timed=False)
        print(f"[emulated-pi] load average {os.getloadavg()[0]:.1f}; timings:")
        for label, dt in self.timings:
            print(f"  {label:40s} {dt:8.1f} s")


@contextlib.contextmanager
def scenario(run: Run) -> Iterator[Scenario]:
    sc = Scenario(run)
    try:
        yield sc
    finally:
        sc.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fleet.emulated_pi")
    p.add_argument("rootfs", type=Path)
    p.add_argument("--work", type=Path, help="x86-side directory (default: beside the rootfs)")
    args = p.parse_args(argv)
    rootfs = args.rootfs.resolve()
    from build_tools.targets import load_target

    install_dir = load_target(TARGET).connection.install_dir
    assert install_dir, f"target {TARGET} has a connection.install_dir"
    run = Run(
        rootfs,
        (args.work or rootfs.parent / "fleet-run").resolve(),
        free_port(),
        free_port(),
        free_port(),
        install_dir,
    )
    with scenario(run) as sc:
        sc.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
