from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import build_tools.guests as guests
from build_tools.errors import TargetError
from build_tools.targets import load_target
from edge_runtime.errors import GuestRejected
from edge_runtime.guest_abi import ALLOWED_IMPORTS
from edge_runtime.wasm_binary import read_module_info

pytestmark = pytest.mark.skipif(shutil.which("clang-19") is None, reason="clang-19 not installed")


def test_build_produces_validated_content_addressed_guests(build_dir: Path) -> None:
    result = guests.build_guests(load_target("host"), build_dir)
    manifest = json.loads((result.directory / "manifest.json").read_text())
    assert manifest["target"] == "host"
    names = [m["name"] for m in manifest["modules"]]
    assert names == list(load_target("host").guests.modules)
    for m in manifest["modules"]:
        wasm = (result.directory / m["path"]).read_bytes()
        import hashlib

        assert hashlib.sha256(wasm).hexdigest() == m["sha256"]
        assert (result.directory / "sha256" / f"{m['sha256']}.wasm").read_bytes() == wasm
        assert len(wasm) == m["size"]
        info = read_module_info(wasm)
        assert info.is_reactor
        for imp in info.imports:
            assert imp.name in ALLOWED_IMPORTS[imp.module]
        # Independent check of the strict feature set with wabt itself.
        subprocess.run(
            [
                "wasm-validate",
                "--disable-reference-types",
                "--disable-bulk-memory",
                str(result.directory / m["path"]),
            ],
            check=True,
        )
    hello = next(m for m in manifest["modules"] if m["name"] == "hello")
    assert {"add", "fib", "alloc", "say_hello", "trap", "spin"} <= set(hello["exports"])
    assert "wasi_snapshot_preview1.fd_write" in hello["imports"]
    classify = next(m for m in manifest["modules"] if m["name"] == "classify")
    assert "wasi_ephemeral_nn.load_by_name" in classify["imports"]


def test_noop_rebuild_runs_no_process(build_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = load_target("host")
    first = guests.build_guests(target, build_dir)
    assert first.compiled == list(target.guests.modules)

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a no-op build started a process: {args}")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    start = time.perf_counter()
    second = guests.build_guests(target, build_dir)
    elapsed = time.perf_counter() - start
    assert second.compiled == []
    assert [g.sha256 for g in second.guests] == [g.sha256 for g in first.guests]
    assert elapsed < 2.0, f"no-op build took {elapsed:.3f} s"


def test_header_change_triggers_rebuild(
    build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc = tmp_path / "include"
    shutil.copytree(guests.guest_include(), inc)
    monkeypatch.setattr(guests, "guest_include", lambda: inc)
    target = dataclasses.replace(
        load_target("host"),
        guests=dataclasses.replace(load_target("host").guests, modules=("hello",)),
    )
    assert guests.build_guests(target, build_dir).compiled == ["hello"]
    assert guests.build_guests(target, build_dir).compiled == []
    (inc / "edge_nn.h").write_text((inc / "edge_nn.h").read_text() + "\n/* touched */\n")
    assert guests.build_guests(target, build_dir).compiled == ["hello"]


def test_same_bytes_for_every_target(build_dir: Path) -> None:
    host = {g.name: g.sha256 for g in guests.build_guests(load_target("host"), build_dir).guests}
    mcu = {g.name: g.sha256 for g in guests.build_guests(load_target("esp32c3"), build_dir).guests}
    assert host == mcu


def _target_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str):  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{name}.c").write_text(source)
    monkeypatch.setattr(guests, "guest_sources", lambda: src)
    base = load_target("host")
    return dataclasses.replace(base, guests=dataclasses.replace(base.guests, modules=(name,)))


def test_guest_importing_outside_the_abi_is_refused(
    build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target_with(
        tmp_path,
        monkeypatch,
        "sneaky",
        """
        __attribute__((import_module("env"), import_name("launch_missiles"))) int launch(int);
        __attribute__((export_name("go"))) int go(int x) { return launch(x); }
    """,
    )
    with pytest.raises(GuestRejected) as e:
        guests.build_guests(target, build_dir)
    assert str(e.value) == "guest sneaky: import env.launch_missiles is not in the allowed ABI"
    assert not (build_dir / "host" / "guests" / "sneaky.wasm").exists()


def test_wasi_function_outside_the_subset_is_refused(
    build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target_with(
        tmp_path,
        monkeypatch,
        "opener",
        """
        __attribute__((import_module("wasi_snapshot_preview1"), import_name("path_unlink_file")))
        int path_unlink_file(int, int, int);
        __attribute__((export_name("go"))) int go(void) { return path_unlink_file(3, 0, 0); }
    """,
    )
    with pytest.raises(
        GuestRejected, match=r"import wasi_snapshot_preview1\.path_unlink_file is not in"
    ):
        guests.build_guests(target, build_dir)


def test_compile_error_is_a_toolchain_error(
    build_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from build_tools.errors import ToolchainError

    target = _target_with(tmp_path, monkeypatch, "broken", "int f( { }\n")
    with pytest.raises(ToolchainError, match=r"compiling guest broken\.c failed"):
        guests.build_guests(target, build_dir)


def test_unknown_guest_names_the_field(build_dir: Path) -> None:
    base = load_target("host")
    target = dataclasses.replace(base, guests=dataclasses.replace(base.guests, modules=("nope",)))
    with pytest.raises(TargetError, match=r"host.toml: field 'guests.modules': no guest 'nope'"):
        guests.build_guests(target, build_dir)


def test_malformed_wasm_is_reported() -> None:
    with pytest.raises(GuestRejected, match="no \\\\0asm magic"):
        read_module_info(b"\x7fELF....", "x")
    with pytest.raises(GuestRejected, match="section 2 runs past the end"):
        read_module_info(b"\0asm\x01\0\0\0\x02\x10\x01", "x")
