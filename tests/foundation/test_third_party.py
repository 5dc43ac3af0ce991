"""The lock file of upstream sources: resolution order, hash checks, unpacking under build/."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from build_tools import cli, third_party
from build_tools.paths import shared_root
from build_tools.third_party import Dependency, ThirdPartyError


def _tar(files: dict[str, bytes], top: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fake_dep(tmp_path: Path, files: dict[str, bytes], **over: str) -> tuple[Dependency, bytes]:
    """A lock entry for a small synthetic upstream tree, with its correct hashes."""
    data = _tar(files, "fake-1.0")
    tree = tmp_path / "reference"
    tree.mkdir()
    for name, content in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(content)
    dep = Dependency(
        name="fake",
        description="test",
        upstream="https://example.invalid/fake",
        revision="1.0",
        commit="0" * 12,
        license="Apache-2.0",
        archive="fake-1.0.tar.gz",
        archive_sha256=hashlib.sha256(data).hexdigest(),
        download=(tmp_path / "nowhere.tar.gz").as_uri(),
        paths=("src", "LICENSE"),
        exclude=("src/test",),
        tree_sha256=third_party.tree_digest(tree, ("src", "LICENSE"), ("src/test",)),
    )
    return dataclasses.replace(dep, **over), data


FILES = {"src/a.c": b"int a;\n", "src/test/t.c": b"skip me\n", "LICENSE": b"L\n", "x.md": b"x"}


def test_lock_names_every_upstream_part_with_hashes() -> None:
    deps = third_party.load_lock()
    assert {"wamr", "esp-tflite-micro", "esp-nn", "platform-espressif32"} <= set(deps)
    for d in deps.values():
        assert len(d.archive_sha256) == 64 and len(d.tree_sha256) == 64, d.name
        assert d.upstream.startswith("https://") and d.download.startswith("https://")


@pytest.mark.parametrize("name", sorted(third_party.load_lock()))
def test_shared_archives_verify_and_unpack_under_build(name: str, build_dir: Path) -> None:
    dep = third_party.dependency(name)
    if not (shared_root() / "third_party" / dep.archive).is_file():
        pytest.fail(f"{dep.archive} is not in the shared directory beside the checkout")
    tree = third_party.resolve(name, allow_download=False)
    assert tree == build_dir / "third_party" / name
    assert third_party.tree_digest(tree, dep.paths, dep.exclude) == dep.tree_sha256
    assert third_party.status(name).state == "unpacked"


def test_tree_digest_ignores_excluded_and_unlisted_paths(tmp_path: Path) -> None:
    dep, _ = _fake_dep(tmp_path, FILES)
    root = tmp_path / "reference"
    assert third_party.used_files(root, dep.paths, dep.exclude) == ["LICENSE", "src/a.c"]
    (root / "x.md").write_bytes(b"changed")
    (root / "src/test/t.c").write_bytes(b"changed")
    assert third_party.tree_digest(root, dep.paths, dep.exclude) == dep.tree_sha256
    (root / "src/a.c").write_bytes(b"int a; /* changed */\n")
    assert third_party.tree_digest(root, dep.paths, dep.exclude) != dep.tree_sha256


def test_explicit_directory_comes_first(tmp_path: Path, build_dir: Path) -> None:
    dep, data = _fake_dep(tmp_path, FILES)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / dep.archive).write_bytes(data)
    tree = third_party.resolve_dependency(dep, explicit=tmp_path / "cache", allow_download=False)
    assert (tree / "src" / "a.c").read_bytes() == b"int a;\n"
    assert tree.is_relative_to(build_dir)


def test_environment_directory_is_searched(
    tmp_path: Path, build_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep, data = _fake_dep(tmp_path, FILES)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / dep.archive).write_bytes(data)
    monkeypatch.setenv(third_party.ENV_DIR, str(tmp_path / "env"))
    assert third_party.find_archive(dep) == (third_party.ENV_DIR, tmp_path / "env" / dep.archive)
    third_party.resolve_dependency(dep, allow_download=False)


def test_damaged_archive_is_refused_naming_both_hashes(tmp_path: Path, build_dir: Path) -> None:
    dep, data = _fake_dep(tmp_path, FILES)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / dep.archive).write_bytes(data[:-10] + b"0123456789")
    with pytest.raises(ThirdPartyError, match=r"has sha256 [0-9a-f]{64}, the lock file says"):
        third_party.resolve_dependency(dep, explicit=tmp_path / "cache")
    assert not (build_dir / "third_party" / "fake").exists()


def test_download_is_verified_by_tree_hash(tmp_path: Path, build_dir: Path) -> None:
    # An upstream archive is packaged differently from the cache (other top folder, extra
    # files): only the used files count.
    dep, _ = _fake_dep(tmp_path, FILES)
    upstream = _tar({**FILES, "extra/README": b"upstream only"}, "fake-0000000")
    (tmp_path / "upstream.tar.gz").write_bytes(upstream)
    dep = dataclasses.replace(dep, download=(tmp_path / "upstream.tar.gz").as_uri())
    tree = third_party.resolve_dependency(dep)
    assert (tree / "LICENSE").read_bytes() == b"L\n"


def test_download_with_other_content_is_refused(tmp_path: Path, build_dir: Path) -> None:
    dep, _ = _fake_dep(tmp_path, FILES)
    other = _tar({**FILES, "src/a.c": b"int evil;\n"}, "fake-1.0")
    (tmp_path / "upstream.tar.gz").write_bytes(other)
    dep = dataclasses.replace(dep, download=(tmp_path / "upstream.tar.gz").as_uri())
    with pytest.raises(ThirdPartyError, match="do not match the lock file"):
        third_party.resolve_dependency(dep)
    assert not (build_dir / "third_party" / "fake").exists()


def test_missing_everywhere_is_one_clear_error(tmp_path: Path, build_dir: Path) -> None:
    dep, _ = _fake_dep(tmp_path, FILES)
    with pytest.raises(ThirdPartyError) as e:
        third_party.resolve_dependency(dep)
    assert "no fake-1.0.tar.gz in" in str(e.value) and "download from" in str(e.value)
    assert "--third-party-dir" in (e.value.hint or "")
    with pytest.raises(ThirdPartyError, match=r"no fake-1\.0\.tar\.gz in"):
        third_party.resolve_dependency(dep, allow_download=False)


def test_doctor_lists_sources(capsys: pytest.CaptureFixture[str], build_dir: Path) -> None:
    assert cli.run(["doctor", "esp32c3", "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    names = {s["name"]: s for s in report["third_party"]}
    assert set(names) == {"wamr", "esp-tflite-micro", "esp-nn", "platform-espressif32"}
    assert names["wamr"]["revision"] == "WAMR-2.4.5" and names["wamr"]["state"] == "archive"
    assert cli.run(["doctor", "host", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["third_party"] == []


def test_doctor_reports_a_missing_source(
    tmp_path: Path,
    build_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BUILD_TOOLS_SHARED_DIR", str(tmp_path / "empty"))
    assert cli.run(["doctor", "esp32c3"]) == 1
    out = capsys.readouterr().out
    assert "MISSING wamr" in out
    assert "get wamr: wamr-2.4.5.tar.gz from https://" in out
