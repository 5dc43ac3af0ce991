from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from build_tools import cli
from build_tools.doctor import required_tools
from build_tools.targets import load_target

REPO = Path(__file__).resolve().parents[2]


def test_requirements_follow_target_fields() -> None:
    q = required_tools(load_target("qemu-rv32"))
    assert {
        "wasm2c-runtime",
        "riscv64-unknown-elf-gcc",
        "picolibc",
        "qemu-system-riscv32",
        "cmake",
    } <= set(q)
    assert "wasmtime" not in q and "platformio" not in q
    esp = required_tools(load_target("esp32"))
    assert {"platformio", "esptool", "pyserial"} <= set(esp)
    assert "qemu-system-riscv32" not in esp
    host = required_tools(load_target("host"))
    assert {"wasmtime", "ai-edge-litert", "clang-19"} <= set(host)
    rpi = required_tools(load_target("rpi4"))
    # deploy (SSH) + the runtime wheel's libnnb, cross-built for aarch64
    assert {"paramiko", "cmake", "ld.lld", "arm64-cross-libc"} <= set(rpi)
    assert "arm64-cross-libc" not in host and "cmake" not in host


def _python_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "build_tools", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_doctor_reports_missing_tools_with_install_command(tmp_path: Path) -> None:
    # An empty PATH: every binary tool is missing; the exit code says the target cannot be built.
    proc = _python_cli("doctor", "qemu-rv32", "--json", env={"PATH": str(tmp_path)})
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    missing = {t["name"]: t["install"] for t in report["tools"] if not t["present"]}
    assert "qemu-system-riscv32" in missing
    assert (
        missing["qemu-system-riscv32"]
        == "sudo apt-get update && sudo apt-get install -y qemu-system-misc"
    )
    assert report["ok"] is False


def test_doctor_text_output_names_install_command(tmp_path: Path) -> None:
    proc = _python_cli("doctor", "host", env={"PATH": str(tmp_path)})
    assert proc.returncode == 1
    assert "MISSING clang-19" in proc.stdout
    assert (
        "install clang-19: sudo apt-get update && sudo apt-get install -y clang-19" in proc.stdout
    )


def test_user_error_is_one_line_with_hint_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["build", "esp99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown target 'esp99'\nhint: known targets: ")
    assert "Traceback" not in err


def test_verbose_shows_traceback() -> None:
    proc = _python_cli("-v", "targets", "show", "esp99")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "error: unknown target 'esp99'" in proc.stderr


def test_targets_json_lists_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["targets", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert {"esp32", "esp32s3", "esp32c3", "rpi4", "rpi5", "host", "qemu-rv32"} <= set(listed)
    assert listed["esp32s3"]["memory"]["psram_kib"] == 8192
    assert listed["host"]["source"] == "targets/host.toml"


def test_build_json_prints_manifest(build_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["build", "host", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["version"] == 1 and len(manifest["modules"]) >= 3
    assert cli.run(["clean", "host"]) == 0
    assert not (build_dir / "host").exists()
