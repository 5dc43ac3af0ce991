"""Builds guest modules for a target: compile, validate, check imports, content-address, manifest.

Incremental: a guest whose inputs (source, guest headers, compiler flags, compiler binary) are
unchanged is not rebuilt, and a no-op build starts no process at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from edge_runtime.guest_abi import check_imports
from edge_runtime.wasm_binary import read_module_info

from .buildlock import atomic_write, locked_build
from .errors import TargetError
from .paths import build_root, repo_root
from .targets import Target
from .toolchains import wabt, wasi_clang

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class GuestEntry:
    name: str
    sha256: str
    size: int
    path: str  # relative to the manifest's directory
    imports: list[str]
    exports: list[str]


@dataclass
class BuildResult:
    target: str
    directory: Path
    guests: list[GuestEntry]
    compiled: list[str] = field(default_factory=list)  # names actually rebuilt this run
    # guests.evp_modules, built as EVP modules under evp/ (path relative to `directory`)
    evp_guests: list[GuestEntry] = field(default_factory=list)

    def manifest(self) -> dict[str, object]:
        return {
            "version": MANIFEST_VERSION,
            "target": self.target,
            "modules": [asdict(g) for g in self.guests],
        }


def guest_sources() -> Path:
    return repo_root() / "guests" / "src"


def guest_include() -> Path:
    return repo_root() / "guests" / "include"


def target_dir(target: Target, root: Path | None = None, *_: object, **__: object) -> Path:
    """Everything built for one target under `root` (default: paths.build_root()); builds of
    it hold its lock (buildlock.target_lock). Takes (and ignores) a build function's other
    arguments, for `buildlock.locked_build`."""
    return (root or build_root()) / target.name


def method_target_dir(_builder: object, target: Target, *_: object, **__: object) -> Path:
    """`target_dir` for a builder method (self, target, ...)."""
    return target_dir(target)


def output_dir(target: Target, root: Path | None = None) -> Path:
    return target_dir(target, root) / "guests"


def _tool_identity(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        return f"{tool}:missing"
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _input_key(source: Path, argv: list[str]) -> str:
    h = hashlib.sha256()
    h.update(source.read_bytes())
    for header in sorted(guest_include().rglob("*.h")):
        h.update(str(header.relative_to(guest_include())).encode())
        h.update(header.read_bytes())
    h.update("\0".join(argv).encode())
    h.update(_tool_identity(wasi_clang.CLANG).encode())
    h.update(_tool_identity("wasm-validate").encode())
    return h.hexdigest()


def _describe(name: str, wasm: bytes, rel_path: str) -> GuestEntry:
    info = read_module_info(wasm, f"guest {name}")
    check_imports(info, f"guest {name}")
    return GuestEntry(
        name=name,
        sha256=hashlib.sha256(wasm).hexdigest(),
        size=len(wasm),
        path=rel_path,
        imports=[f"{i.module}.{i.name}" for i in info.imports],
        exports=[e.name for e in info.exports if e.kind == "func"],
    )


@dataclass(frozen=True)
class GuestKind:
    """How the guests of one source directory are built."""

    sources: str  # directory under guests/src ("" for the reactor guests themselves)
    exec_model: str
    exports: tuple[str, ...] = ()


REACTOR = GuestKind("", "reactor")
# EVP modules (guests/src/evp/): WASI commands exporting malloc/free, as the EVP agent runs them.
EVP_MODULE = GuestKind("evp", "command", wasi_clang.EVP_MODULE_EXPORTS)
# Plain WASI command modules (guests/src/command/): main reads its arguments and environment
# (`run TARGET FILE.wasm --env KEY=VALUE -- ARGS`).
COMMAND = GuestKind("command", "command")


def build_guest(
    name: str, target: Target, out: Path, kind: GuestKind = REACTOR
) -> tuple[GuestEntry, bool]:
    """Returns the manifest entry and whether the compiler ran."""
    sources = guest_sources() / kind.sources
    source = sources / f"{name}.c"
    if not source.exists():
        known = ", ".join(sorted(p.stem for p in sources.glob("*.c")))
        raise TargetError(
            f"{target.source.name}: field 'guests.modules': no guest {name!r}",
            hint=f"guests are {known}",
        )
    wasm_path = out / f"{name}.wasm"
    stamp = out / f".{name}.stamp"
    # The key hashes the command line with the final output name: the temporary name is unique.
    argv = wasi_clang.compile_argv(
        source,
        wasm_path,
        [guest_include()],
        target.guests,
        exec_model=kind.exec_model,
        exports=kind.exports,
    )
    key = _input_key(source, argv)
    if wasm_path.exists() and stamp.exists() and stamp.read_text() == key:
        return _describe(name, wasm_path.read_bytes(), wasm_path.name), False
    fd, tmp_name = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp.wasm")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wasi_clang.compile_guest(
            source,
            tmp,
            [guest_include()],
            target.guests,
            exec_model=kind.exec_model,
            exports=kind.exports,
        )
        wabt.validate(tmp)
        wasm = tmp.read_bytes()
        entry = _describe(name, wasm, wasm_path.name)  # import check before publishing
        store = out / "sha256"
        store.mkdir(exist_ok=True)
        atomic_write(store / f"{entry.sha256}.wasm", wasm)
        os.replace(tmp, wasm_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    atomic_write(stamp, key.encode())
    log.info("built guest %s (%d bytes, sha256 %s)", name, entry.size, entry.sha256[:12])
    return entry, True


@locked_build(target_dir)
def build_guests(target: Target, root: Path | None = None) -> BuildResult:
    """Builds the target's guests under `root` (default: paths.build_root())."""
    out = output_dir(target, root)
    out.mkdir(parents=True, exist_ok=True)
    result = BuildResult(target=target.name, directory=out, guests=[])
    for name in target.guests.modules:
        entry, compiled = build_guest(name, target, out)
        result.guests.append(entry)
        if compiled:
            result.compiled.append(name)
    evp_out = out / EVP_MODULE.sources
    for name in target.guests.evp_modules:
        evp_out.mkdir(exist_ok=True)
        entry, compiled = build_guest(name, target, evp_out, EVP_MODULE)
        result.evp_guests.append(replace(entry, path=f"{EVP_MODULE.sources}/{entry.path}"))
        if compiled:
            result.compiled.append(name)
    manifest = json.dumps(result.manifest(), indent=2) + "\n"
    manifest_path = out / "manifest.json"
    if not manifest_path.exists() or manifest_path.read_text() != manifest:
        atomic_write(manifest_path, manifest.encode())
    return result


def evp_module_names() -> list[str]:
    return sorted(p.stem for p in (guest_sources() / EVP_MODULE.sources).glob("*.c"))


@locked_build(target_dir)
def build_evp_modules(target: Target, root: Path | None = None) -> dict[str, Path]:
    """Builds every EVP module of guests/src/evp/ into <root>/<target>/guests/evp/
    (incremental); returns name -> .wasm path (what a deployment's downloadUrl points at)."""
    out = output_dir(target, root) / EVP_MODULE.sources
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for name in evp_module_names():
        entry, _ = build_guest(name, target, out, EVP_MODULE)
        built[name] = out / entry.path
    return built


@locked_build(target_dir)
def build_command_modules(target: Target, root: Path | None = None) -> dict[str, Path]:
    """Builds every command module of guests/src/command/ into <root>/<target>/guests/command/
    (incremental); returns name -> .wasm path."""
    out = output_dir(target, root) / COMMAND.sources
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    for path in sorted((guest_sources() / COMMAND.sources).glob("*.c")):
        entry, _ = build_guest(path.stem, target, out, COMMAND)
        built[path.stem] = out / entry.path
    return built
