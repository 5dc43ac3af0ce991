"""`deploy`: install the device runtime, guests, models, the device certificate and the agent
service on a Linux device over SSH, as side-by-side releases with an atomic `current` switch.

A release is named by the hash of its contents (the project wheel's files, the dependency
wheels, guests, models, TLS files, agent config), so deploying the same thing twice changes
nothing, and any change makes a new release beside the old ones. Steps on the device:
upload to `releases/<id>.partial/`, create its venv, install, rename to `releases/<id>/` (until
then nothing the device runs has changed), then `python -m edge_runtime.fleet.device activate`
(detached from the SSH session) switches `current`, restarts the service and waits for the agent
to report the new release; if it does not, the device switches back by itself.

What a device installs: the runtime wheel for its architecture (runtime_wheel.py: edge_runtime
with its prebuilt native libraries, no build_tools, no compiler on the device) and the runtime's
pinned requirements for the chosen NN backend (`device_requirements`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import re
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.errors import DeviceError

from .. import runtime_wheel
from ..errors import BuildToolsError
from ..guests import build_guests
from ..paths import build_root, shared_root
from ..targets import Target
from ..toolchains import pip
from ..toolchains.ssh import SshHost, SshSession, remote_command
from .pki import CertificateAuthority

log = logging.getLogger(__name__)

# The packages only one NN backend needs (the device gets those of its backend alone).
BACKEND_PACKAGES = {
    "litert": ("ai-edge-litert",),
    "tflm": ("tflite-micro",),
    "tflite-runtime": (),
    "builtin": (),
}
KEEP_RELEASES = 3


@dataclass(frozen=True)
class ReleaseFile:
    path: str  # inside the release directory
    data: bytes
    mode: int = 0o644

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Plan:
    target: str
    host: SshHost
    root: str
    service: str
    python: str
    files: list[ReleaseFile]
    wheel: str  # path of the project wheel inside the release
    offline: bool  # dependency wheels shipped
    arch: str = ""  # the device's `uname -m`, checked before installing
    release: str = ""
    notes: list[str] = field(default_factory=list)

    def release_dir(self, partial: bool = False) -> str:
        return f"{self.root}/releases/{self.release}" + (".partial" if partial else "")

    def install_commands(self) -> list[list[str]]:
        d = self.release_dir(partial=True)
        vpy = f"{d}/venv/bin/python"
        return [
            pip.venv_argv(self.python, f"{d}/venv"),
            pip.install_wheel_argv(vpy, f"{d}/{self.wheel}"),
            pip.install_requirements_argv(
                vpy, f"{d}/device-requirements.txt", f"{d}/wheels" if self.offline else None
            ),
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "host": str(self.host),
            "root": self.root,
            "release": self.release,
            "service": self.service,
            "files": [
                {"path": f.path, "bytes": len(f.data), "sha256": f.digest} for f in self.files
            ],
            "steps": [
                f"upload {len(self.files)} files ({sum(len(f.data) for f in self.files)} bytes) to {self.release_dir(True)}",
                *(remote_command(c) for c in self.install_commands()),
                f"mv {self.release_dir(True)} {self.release_dir()}",
                f"activate: switch {self.root}/current, restart the {self.service} service, wait for the agent to report release {self.release}",
            ],
            "notes": self.notes,
        }


def device_requirements(backend: str) -> list[str]:
    """What a device installs beside the runtime wheel: edge-runtime's pinned requirements (one
    source: runtime_py/pyproject.toml, read from the installed metadata), less the packages of
    the other NN backends, plus the chosen backend's extra."""
    mine = set(BACKEND_PACKAGES.get(backend, ()))
    others = {p for b, pkgs in BACKEND_PACKAGES.items() if b != backend for p in pkgs} - mine
    out = []
    for text in importlib.metadata.requires("edge-runtime") or []:
        name = re.split(r"[\s=<>!~;\[]", text, maxsplit=1)[0].lower()
        extra = re.search(r"""\s*(?:and\s+)?extra\s*==\s*["'][^"']*["']""", text)
        if name in others or (extra and name not in mine):
            continue
        if extra:
            text = text.replace(extra.group(0), "").rstrip().rstrip(";").rstrip()
        out.append(text)
    return sorted(out)


def wheel_content_digest(data: bytes) -> str:
    """A hash of a wheel's member names and contents (zip timestamps left out), so the same
    source gives the same release."""
    h = hashlib.sha256()
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            for name in sorted(z.namelist()):
                h.update(name.encode() + b"\0" + hashlib.sha256(z.read(name)).digest())
    return h.hexdigest()


def agent_config(broker: tuple[str, int], release: str, target: Target, backend: str) -> str:
    lim = target.limits
    return "\n".join(
        [
            "# written by deploy; paths are relative to this file",
            "[broker]",
            f'host = "{broker[0]}"',
            f"port = {broker[1]}",
            "[tls]",
            'ca = "tls/ca.crt"',
            'cert = "tls/device.crt"',
            'key = "tls/device.key"',
            "[agent]",
            'state_dir = "../../state"',
            f'release = "{release}"',
            "[runtime]",
            f'backend = "{backend}"',
            'executor = "pipeline"',
            f'target = "{target.name}"',
            f"memory_kib = {lim.instance_memory_kib}",
            f"timeout_ms = {lim.call_timeout_ms}",
            f"max_graphs = {lim.max_graphs}",
            f"max_contexts = {lim.max_contexts}",
            'models_dir = "models"',
            "",
        ]
    )


def make_plan(
    target: Target,
    host: SshHost,
    *,
    root: str,
    device: str,
    pki_dir: Path,
    broker: tuple[str, int],
    service: str,
    python: str,
    backend: str | None,
    wheelhouse: Path | None,
    models: bool,
    extra: dict[str, bytes] | None = None,
    arch: str | None = None,
) -> Plan:
    if target.runtime.kind != "python-host":
        raise BuildToolsError(
            f"target {target.name}: deploy over SSH is for python-host targets (this one runs {target.runtime.kind})"
        )
    backend = backend or target.runtime.nn_backend
    ca = CertificateAuthority(pki_dir)
    if not ca.cert_path(device).is_file():
        raise BuildToolsError(
            f"no certificate for device {device} in {pki_dir}",
            hint=f"run: fleet cert issue {device} --pki {pki_dir}",
        )
    files: list[ReleaseFile] = []
    arch = arch or runtime_wheel.wheel_arch(target)
    wheel = runtime_wheel.platform_wheel(arch, build_root() / "deploy" / arch)
    wheel_name = f"wheels/{wheel.name}"
    files.append(ReleaseFile(wheel_name, wheel.read_bytes()))
    if wheelhouse is not None:
        found = sorted(wheelhouse.glob("*.whl"))
        if not found:
            raise BuildToolsError(f"--wheelhouse {wheelhouse}: no .whl files")
        files += [ReleaseFile(f"wheels/{p.name}", p.read_bytes()) for p in found]
    files.append(
        ReleaseFile(
            "device-requirements.txt", ("\n".join(device_requirements(backend)) + "\n").encode()
        )
    )
    built = build_guests(target)
    files += [
        ReleaseFile(f"guests/{g.name}.wasm", (built.directory / g.path).read_bytes())
        for g in built.guests
    ]
    notes = []
    if models:
        for name in target.guests.models:
            p = shared_root() / "models" / f"{name}.tflite"
            if p.is_file():
                files.append(ReleaseFile(f"models/{name}.tflite", p.read_bytes()))
            else:
                notes.append(f"model {name} not found at {p}: not shipped")
    files += [
        ReleaseFile("tls/ca.crt", ca.ca_cert_path.read_bytes()),
        ReleaseFile("tls/device.crt", ca.cert_path(device).read_bytes()),
        ReleaseFile("tls/device.key", ca.key_path(device).read_bytes(), 0o600),
    ]
    for name, data in (extra or {}).items():
        files.append(ReleaseFile(name, data))
    plan = Plan(
        target.name,
        host,
        root,
        service,
        python,
        files,
        wheel_name,
        wheelhouse is not None,
        arch=arch,
        notes=notes,
    )
    # The release id: every file by content (the wheel by its members), and the agent config.
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest = wheel_content_digest(f.data) if f.path == wheel_name else f.digest
        h.update(f"{f.path}\0{f.mode:o}\0{digest}\n".encode())
    h.update(agent_config(broker, "", target, backend).encode())
    h.update(f"{service}\0{python}".encode())
    plan.release = h.hexdigest()[:16]
    files.append(
        ReleaseFile("agent.toml", agent_config(broker, plan.release, target, backend).encode())
    )
    files.append(
        ReleaseFile(
            "release.json",
            json.dumps({"release": plan.release, "target": target.name, "device": device}).encode(),
        )
    )
    return plan


@dataclass(frozen=True)
class Outcome:
    action: str  # "unchanged" | "installed" | "activated" | "rolled-back"
    release: str
    result: dict[str, Any]


def _remote_state(s: SshSession, root: str, release: str) -> tuple[str | None, bool]:
    q = remote_command
    script = (
        f"readlink {q([f'{root}/current'])} || true; "
        f"if [ -d {q([f'{root}/releases/{release}'])} ]; then echo INSTALLED; fi"
    )
    _, out, _ = s.run(script, "reading the device's releases")
    lines = out.split()
    current = next((ln.rsplit("/", 1)[-1] for ln in lines if ln.startswith("releases/")), None)
    return current, "INSTALLED" in lines


def _device_step(
    s: SshSession, plan_root: str, python: str, argv: list[str], timeout: float
) -> dict[str, Any]:
    """Runs a device step detached from this SSH session and polls its result file (a cut
    connection does not stop the step; the step's own timeout bounds it)."""
    token = uuid.uuid4().hex[:12]
    run_dir = f"{plan_root}/run"
    log_file = remote_command([f"{run_dir}/{token}.log"])
    cmd = remote_command(
        [python, "-m", "edge_runtime.fleet.device", *argv, "--root", plan_root, "--result", token]
    )
    _, out, _ = s.run(
        f"mkdir -p {remote_command([run_dir])} && (setsid nohup {cmd} > {log_file} 2>&1 < /dev/null & echo $!)",
        "starting the device step",
    )
    pid = out.strip().splitlines()[-1] if out.strip() else ""
    result_file = remote_command([f"{run_dir}/{token}.json"])
    deadline = time.monotonic() + timeout + 30
    while time.monotonic() < deadline:
        # The second cat: the step may have written its result just before the kill -0.
        _, out, _ = s.run(
            f"cat {result_file} 2>/dev/null || {{ kill -0 {pid} 2>/dev/null && echo RUNNING; }} "
            f"|| cat {result_file} 2>/dev/null",
            "reading the device step's result",
            check=False,
        )
        text = out.strip()
        if text and text != "RUNNING":
            return dict(json.loads(text))
        if not text:  # neither a result nor a running step: it failed before writing one
            break
        time.sleep(0.5)
    _, out, _ = s.run(f"tail -5 {log_file}", "reading the step's log", check=False)
    raise DeviceError(f"{s.host}: the device step {argv[0]} ended without a result:\n{out.strip()}")


def deploy(plan: Plan, session: SshSession, timeout: float = 60.0, progress: Any = None) -> Outcome:
    s = session
    _, machine, _ = s.run(["uname", "-m"], "reading the device's architecture")
    if plan.arch and machine.strip() != plan.arch:
        raise DeviceError(
            f"{s.host}: the device is {machine.strip()}, the release carries the runtime for "
            f"{plan.arch} (give --arch {machine.strip()})"
        )
    current, installed = _remote_state(s, plan.root, plan.release)
    if current == plan.release:
        return Outcome("unchanged", plan.release, {"ok": True, "release": plan.release})
    if not installed:
        partial = plan.release_dir(partial=True)
        dirs = sorted(
            {f"{partial}/{Path(f.path).parent}" for f in plan.files}
            | {f"{plan.root}/releases", f"{plan.root}/state"}
        )
        s.run(["rm", "-rf", partial], "removing an interrupted upload")
        s.mkdirs(dirs)
        with tempfile.TemporaryDirectory() as tmp:
            for f in plan.files:
                local = Path(tmp) / "f"
                local.write_bytes(f.data)
                s.put(local, f"{partial}/{f.path}", mode=f.mode)
                if progress is not None:
                    progress(f.path, len(f.data))
        for argv in plan.install_commands():
            s.run(argv, f"installing release {plan.release}", timeout=900)
        s.run(["mv", "-T", partial, plan.release_dir()], "completing the release")
    vpy = f"{plan.release_dir()}/venv/bin/python"
    result = _device_step(
        s,
        plan.root,
        vpy,
        [
            "activate",
            "--release",
            plan.release,
            "--service",
            plan.service,
            "--timeout",
            str(timeout),
        ],
        timeout,
    )
    if not result.get("ok"):
        back = result.get("rolled_back_to")
        raise DeviceError(
            f"{s.host}: release {plan.release} did not start: {result.get('error')}"
            + (f"; the device went back to {back}" if back else "")
        )
    _prune(s, plan.root, keep=KEEP_RELEASES)
    return Outcome("activated", plan.release, result)


def rollback(root: str, service: str, session: SshSession, timeout: float = 60.0) -> Outcome:
    current, _ = _remote_state(session, root, "-")
    if current is None:
        raise DeviceError(
            f"{session.host}: no release is installed under {root}: nothing to roll back"
        )
    vpy = f"{root}/current/venv/bin/python"
    result = _device_step(
        session, root, vpy, ["rollback", "--service", service, "--timeout", str(timeout)], timeout
    )
    if not result.get("ok"):
        raise DeviceError(f"{session.host}: rollback failed: {result.get('error')}")
    return Outcome("rolled-back", str(result["release"]), result)


def _prune(s: SshSession, root: str, keep: int) -> None:
    """Removes releases beyond the newest `keep` of history.json (never current)."""
    script = (
        "import json, pathlib, shutil, os\n"
        f"root = pathlib.Path({root!r})\n"
        "hist = json.loads((root / 'history.json').read_text()) if (root / 'history.json').exists() else []\n"
        f"keep = set(hist[-{keep}:]) | {{os.path.basename(os.readlink(root / 'current'))}}\n"
        "for d in (root / 'releases').iterdir():\n"
        "    if d.is_dir() and not d.name.endswith('.partial') and d.name not in keep: shutil.rmtree(d)\n"
    )
    s.run([f"{root}/current/venv/bin/python", "-c", script], "pruning old releases", check=False)
