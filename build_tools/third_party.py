"""Pinned upstream sources (WAMR, esp-tflite-micro, esp-nn, PlatformIO boards): find, verify, unpack.

The lock file `third_party.toml` beside this module is the one description of every upstream
part. An archive is looked for in, in order: the directory given by `--third-party-dir` or
`BUILD_TOOLS_THIRD_PARTY`, the shared directory beside the checkout (`third_party/`), and finally
the upstream download URL. Whatever the source, the unpacked tree is verified against the lock's
`tree_sha256` (a digest of the used paths' names and contents) before anything is built from it,
and it lands in `build/third_party/<name>/`, never in the source tree.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildToolsError
from .paths import build_root, shared_root

log = logging.getLogger(__name__)

LOCK_FILE = Path(__file__).with_name("third_party.toml")
ENV_DIR = "BUILD_TOOLS_THIRD_PARTY"
DOWNLOAD_TIMEOUT_S = 60
_FIELDS = (
    "description",
    "upstream",
    "revision",
    "commit",
    "license",
    "archive",
    "archive_sha256",
    "download",
    "paths",
    "exclude",
    "tree_sha256",
)


class ThirdPartyError(BuildToolsError):
    """An upstream dependency is missing, or its bytes do not match the lock file."""


@dataclass(frozen=True)
class Dependency:
    name: str
    description: str
    upstream: str
    revision: str
    commit: str
    license: str
    archive: str
    archive_sha256: str
    download: str
    paths: tuple[str, ...]
    exclude: tuple[str, ...]
    tree_sha256: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.revision} ({self.upstream} @ {self.commit})"


def load_lock(path: Path = LOCK_FILE) -> dict[str, Dependency]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ThirdPartyError(f"{path.name}: cannot read the lock file: {e}") from e
    deps: dict[str, Dependency] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ThirdPartyError(f"{path.name}: [{name}] must be a table")
        unknown = sorted(set(entry) - set(_FIELDS))
        missing = [f for f in _FIELDS if f not in entry]
        if unknown or missing:
            raise ThirdPartyError(
                f"{path.name}: [{name}] "
                + (f"unknown field(s) {', '.join(unknown)}" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"missing field(s) {', '.join(missing)}" if missing else "")
            )
        for f in ("paths", "exclude"):
            if not isinstance(entry[f], list) or not all(isinstance(p, str) for p in entry[f]):
                raise ThirdPartyError(f"{path.name}: [{name}].{f} must be a list of strings")
        deps[name] = Dependency(
            name=name,
            **{f: entry[f] for f in _FIELDS if f not in ("paths", "exclude")},
            paths=tuple(entry["paths"]),
            exclude=tuple(entry["exclude"]),
        )
    return deps


def dependency(name: str) -> Dependency:
    deps = load_lock()
    if name not in deps:
        raise ThirdPartyError(
            f"unknown third-party dependency {name!r}", hint=f"known: {', '.join(sorted(deps))}"
        )
    return deps[name]


# ---- verification --------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _excluded(rel: str, exclude: tuple[str, ...]) -> bool:
    return any(rel == e or rel.startswith(e.rstrip("/") + "/") for e in exclude)


def used_files(root: Path, paths: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """Relative POSIX paths of the files a dependency uses (symlinks count by their target)."""
    found: set[str] = set()
    for p in paths:
        base = root / p
        if base.is_file() or (base.is_symlink() and not base.is_dir()):
            found.add(base.relative_to(root).as_posix())
            continue
        if not base.is_dir():
            raise ThirdPartyError(f"{root.name}: the lock names {p!r}, which is not in the tree")
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            dirnames[:] = [
                d for d in dirnames if not _excluded(_join(rel_dir, d), exclude) and d != ".git"
            ]
            for fn in filenames:
                rel = _join(rel_dir, fn)
                if not _excluded(rel, exclude):
                    found.add(rel)
    return sorted(found)


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir in ("", ".") else f"{rel_dir}/{name}"


def tree_digest(root: Path, paths: tuple[str, ...], exclude: tuple[str, ...]) -> str:
    """sha256 over `<relative path>\\0<sha256 of the content>\\n` for every used file, sorted."""
    h = hashlib.sha256()
    for rel in used_files(root, paths, exclude):
        p = root / rel
        content = os.readlink(p).encode() if p.is_symlink() else None
        digest = hashlib.sha256(content).hexdigest() if content is not None else file_sha256(p)
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()


# ---- locating an archive ---------------------------------------------------------------------


def search_dirs(explicit: Path | None = None) -> list[tuple[str, Path]]:
    """Where archives are looked for, with a label each, in order."""
    dirs: list[tuple[str, Path]] = []
    if explicit is not None:
        dirs.append(("--third-party-dir", explicit))
    env = os.environ.get(ENV_DIR)
    if env:
        dirs.append((ENV_DIR, Path(env)))
    dirs.append(("shared directory", shared_root() / "third_party"))
    return dirs


def find_archive(dep: Dependency, explicit: Path | None = None) -> tuple[str, Path] | None:
    for label, d in search_dirs(explicit):
        candidate = d / dep.archive
        if candidate.is_file():
            return label, candidate
    return None


def unpack_dir(dep: Dependency) -> Path:
    return build_root() / "third_party" / dep.name


def _stamp(dep: Dependency) -> Path:
    return build_root() / "third_party" / f".{dep.name}.verified"


def is_unpacked(dep: Dependency) -> bool:
    stamp = _stamp(dep)
    return (
        unpack_dir(dep).is_dir()
        and stamp.is_file()
        and stamp.read_text().strip() == dep.tree_sha256
    )


def _download(dep: Dependency, dest: Path) -> None:
    log.info("downloading %s from %s", dep.name, dep.download)
    try:
        with (
            urllib.request.urlopen(dep.download, timeout=DOWNLOAD_TIMEOUT_S) as r,
            dest.open("wb") as f,
        ):
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise ThirdPartyError(
            f"third-party {dep.label}: no {dep.archive} in "
            + ", ".join(str(d) for _, d in search_dirs())
            + f", and the download from {dep.download} failed ({getattr(e, 'reason', e)})",
            hint=f"put {dep.archive} (sha256 {dep.archive_sha256[:16]}...) in a directory and "
            f"pass --third-party-dir DIR or set {ENV_DIR}",
        ) from e


def _extract(archive: Path, into: Path) -> Path:
    """Unpacks a tar.gz whose members share one top-level folder; returns that folder."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            tops = {m.name.split("/", 1)[0] for m in tar.getmembers()}
            if len(tops) != 1:
                raise ThirdPartyError(f"{archive.name}: expected one top-level folder, got {tops}")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ThirdPartyError(f"{archive.name}: cannot unpack: {e}") from e
    return into / tops.pop()


def resolve(name: str, explicit: Path | None = None, allow_download: bool = True) -> Path:
    """The verified, unpacked tree of dependency `name` (under build/third_party/)."""
    return resolve_dependency(dependency(name), explicit, allow_download)


def resolve_dependency(
    dep: Dependency, explicit: Path | None = None, allow_download: bool = True
) -> Path:
    target = unpack_dir(dep)
    if is_unpacked(dep):
        return target
    work = build_root() / "third_party"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=f".{dep.name}-") as tmp:
        tmp_dir = Path(tmp)
        found = find_archive(dep, explicit)
        if found is not None:
            label, archive = found
            actual = file_sha256(archive)
            if actual != dep.archive_sha256:
                raise ThirdPartyError(
                    f"third-party {dep.name}: {archive} ({label}) has sha256 {actual}, "
                    f"the lock file says {dep.archive_sha256}",
                    hint="the archive is damaged or a different revision: replace it",
                )
        elif allow_download:
            archive = tmp_dir / dep.archive
            _download(dep, archive)
            label = "download"
        else:
            raise ThirdPartyError(
                f"third-party {dep.label}: no {dep.archive} in "
                + ", ".join(str(d) for _, d in search_dirs(explicit)),
                hint=f"pass --third-party-dir DIR or set {ENV_DIR}",
            )
        tree = _extract(archive, tmp_dir / "x")
        digest = tree_digest(tree, dep.paths, dep.exclude)
        if digest != dep.tree_sha256:
            raise ThirdPartyError(
                f"third-party {dep.name}: the files of {archive.name} ({label}) do not match the "
                f"lock file (tree sha256 {digest[:16]}..., expected {dep.tree_sha256[:16]}...)",
                hint="a different revision or a modified tree; nothing was unpacked",
            )
        if target.exists():
            shutil.rmtree(target)
        tree.rename(target)
        _stamp(dep).write_text(dep.tree_sha256 + "\n")
        log.info("unpacked %s from %s (%s) into %s", dep.name, archive, label, target)
    return target


@dataclass(frozen=True)
class Status:
    dependency: Dependency
    state: str  # "unpacked" | "archive" | "missing"
    where: str  # the unpacked tree, the archive (and which search location), or where looked

    @property
    def ok(self) -> bool:
        return self.state != "missing"


def status(name: str, explicit: Path | None = None) -> Status:
    dep = dependency(name)
    if is_unpacked(dep):
        return Status(dep, "unpacked", str(unpack_dir(dep)))
    found = find_archive(dep, explicit)
    if found is not None:
        return Status(dep, "archive", f"{found[1]} ({found[0]})")
    looked = ", ".join(str(d) for _, d in search_dirs(explicit))
    return Status(dep, "missing", f"not in {looked}; download from {dep.download}")
