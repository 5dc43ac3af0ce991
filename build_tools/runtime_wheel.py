"""The runtime's platform wheel: what a device installs (no compiler there).

`pip wheel` builds the pure-Python wheel of runtime_py/ (edge_runtime), once per source state;
the platform wheel is that wheel plus the prebuilt native libraries for one architecture
(`edge_runtime/_native/libnnb.so`, built by `nnb.library_for`), tagged
`py3-none-linux_<arch>` (the library is loaded with ctypes: no Python ABI in the tag) and with
a fresh RECORD. Members are written in a fixed order with fixed timestamps, so the same sources
give the same bytes. `build <target>` writes it to build/<target>/dist/; `deploy` ships it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from edge_runtime import native

from . import nnb
from .errors import BuildToolsError
from .paths import build_root, repo_root
from .targets import Target
from .toolchains import pip
from .toolchains.runner import run

PROJECT = "runtime_py"
PACKAGE = "edge_runtime"
NATIVE_LIBS = {"nnb": nnb.library_for}  # edge_runtime.native name -> builder for an arch
_EPOCH = (1980, 1, 1, 0, 0, 0)


def wheel_arch(target: Target) -> str:
    """The architecture of a target's runtime wheel (`native`: this machine's)."""
    return platform.machine() if target.arch == "native" else target.arch


def _source_key() -> str:
    """A hash of what goes into the pure wheel (its pyproject.toml and the package's files)."""
    root = repo_root() / PROJECT
    h = hashlib.sha256((root / "pyproject.toml").read_bytes())
    for p in sorted((root / PACKAGE).rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def pure_wheel() -> Path:
    """edge_runtime-<version>-py3-none-any.whl, built once per source state into build/."""
    out = build_root() / "runtime-wheel" / _source_key()
    wheels = sorted(out.glob(f"{PACKAGE}-*-py3-none-any.whl"))
    if not wheels:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            # From a copy of the sources: setuptools' build/ and egg-info stay out of the
            # checkout, and no stale file of an earlier build reaches the wheel.
            src = Path(tmp) / PROJECT
            shutil.copytree(
                repo_root() / PROJECT,
                src,
                ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
            )
            run(pip.wheel_argv(sys.executable, src, Path(tmp)), "building the runtime wheel")
            for p in Path(tmp).glob(f"{PACKAGE}-*.whl"):
                os.replace(p, out / p.name)
        wheels = sorted(out.glob(f"{PACKAGE}-*-py3-none-any.whl"))
    if not wheels:
        raise BuildToolsError(f"building the runtime wheel produced no {PACKAGE}-*.whl")
    return wheels[-1]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _retag(wheel_meta: bytes, tag: str) -> bytes:
    lines = []
    for line in wheel_meta.decode().splitlines():
        if line.startswith("Root-Is-Purelib:"):
            line = "Root-Is-Purelib: false"
        elif line.startswith("Tag:"):
            line = f"Tag: {tag}"
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


def platform_wheel(arch: str, out_dir: Path) -> Path:
    """The runtime wheel for `arch` with its native libraries, written into out_dir."""
    pure = pure_wheel()
    tag = f"py3-none-linux_{arch}"
    libs = {
        f"{PACKAGE}/_native/{native.file_name(name)}": build(arch).read_bytes()
        for name, build in sorted(NATIVE_LIBS.items())
    }
    members: list[tuple[str, bytes, int]] = []
    record_name = ""
    with zipfile.ZipFile(pure) as z:
        for info in z.infolist():
            data = z.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                record_name = info.filename
                continue
            if info.filename.endswith(".dist-info/WHEEL"):
                data = _retag(data, tag)
            members.append((info.filename, data, 0o644))
    if not record_name:
        raise BuildToolsError(f"{pure.name}: no RECORD")
    members += [(name, data, 0o755) for name, data in libs.items()]
    members.sort(key=lambda m: (m[0].split("/")[0].endswith(".dist-info"), m[0]))
    record = [_record_line(name, data) for name, data, _ in members] + [f"{record_name},,"]
    members.append((record_name, ("\n".join(record) + "\n").encode(), 0o644))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / pure.name.replace("-py3-none-any.whl", f"-{tag}.whl")
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(tmp, path)
    return path


def dist_dir(target: Target) -> Path:
    return build_root() / target.name / "dist"


def build_for(target: Target) -> Path:
    """`build <target>` of a deployable python-host target: build/<target>/dist/<wheel>."""
    return platform_wheel(wheel_arch(target), dist_dir(target))
