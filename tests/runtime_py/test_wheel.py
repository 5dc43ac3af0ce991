"""The runtime's platform wheels: the x86_64 one installs into a fresh venv (no build_tools, no
compiler on PATH; dependencies from the project venv through a .pth line) and runs a guest with
wasi-nn inference on the builtin and litert backends with the in-tree host's output; the aarch64
one carries an ELF for AArch64 exporting every symbol the builtin backend calls."""

from __future__ import annotations

import base64
import hashlib
import platform
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from build_tools import runtime_wheel
from build_tools.cli import run as cli_run
from build_tools.guests import build_command_modules
from build_tools.paths import build_root, find_model
from build_tools.targets import load_target
from edge_runtime.host.backends import builtin

LIB = "edge_runtime/_native/libnnb.so"
MACHINE = platform.machine()


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    out = build_root() / "tests" / "runtime-wheels"
    return {arch: runtime_wheel.platform_wheel(arch, out) for arch in (MACHINE, "aarch64")}


def test_wheels_are_tagged_for_their_platform_with_a_valid_record(
    wheels: dict[str, Path],
) -> None:
    for arch, path in wheels.items():
        assert path.name == f"edge_runtime-0.1.0-py3-none-linux_{arch}.whl"
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            assert LIB in names
            assert not [n for n in names if n.startswith("build_tools")]
            wheel_meta = z.read("edge_runtime-0.1.0.dist-info/WHEEL").decode()
            assert "Root-Is-Purelib: false" in wheel_meta
            assert f"Tag: py3-none-linux_{arch}" in wheel_meta
            record = z.read("edge_runtime-0.1.0.dist-info/RECORD").decode().splitlines()
            for line in record:
                name, digest, size = line.rsplit(",", 2)
                if name.endswith("RECORD"):
                    continue
                data = z.read(name)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                assert digest == "sha256=" + want.decode() and int(size) == len(data), name
            assert sorted(line.split(",")[0] for line in record) == sorted(names)


def test_the_same_sources_give_the_same_wheel(wheels: dict[str, Path], tmp_path: Path) -> None:
    again = runtime_wheel.platform_wheel("aarch64", tmp_path)
    assert again.read_bytes() == wheels["aarch64"].read_bytes()


def test_aarch64_library_is_an_aarch64_elf_exporting_the_backend_symbols(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    so = tmp_path / "libnnb.so"
    with zipfile.ZipFile(wheels["aarch64"]) as z:
        so.write_bytes(z.read(LIB))
    with so.open("rb") as f:
        elf = ELFFile(f)
        assert elf.header["e_machine"] == "EM_AARCH64"
        assert elf.header["e_type"] == "ET_DYN"
        dynsym = elf.get_section_by_name(".dynsym")
        exported = {
            s.name
            for s in dynsym.iter_symbols()
            if s["st_shndx"] != "SHN_UNDEF" and s["st_info"]["bind"] == "STB_GLOBAL"
        }
    assert set(builtin.signatures()) <= exported


@pytest.fixture(scope="module")
def fresh_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the x86_64 (this machine's) runtime wheel installed, --no-deps; the
    dependencies are the project venv's, through a .pth line (no network)."""
    venv = tmp_path_factory.mktemp("device") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheels[MACHINE]),
        ],
        check=True,
    )
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A plain path line: the project venv's packages, but not its .pth files (the editable
    # installs of build_tools and edge_runtime).
    (Path(site) / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run_on_device(venv: Path, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    empty = cwd / "empty-bin"
    empty.mkdir(exist_ok=True)
    env = {"PATH": str(empty), "HOME": str(cwd)}
    return subprocess.run(
        [str(venv / "bin" / "python"), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_installed_wheel_has_no_build_tools_and_its_own_libnnb(
    fresh_venv: Path, tmp_path: Path
) -> None:
    code = (
        "import importlib.util, edge_runtime\n"
        "from edge_runtime import native\n"
        "print(importlib.util.find_spec('build_tools') is None)\n"
        "print(native.library_path('nnb'))\n"
    )
    out = run_on_device(fresh_venv, ["-c", code], tmp_path)
    assert out.returncode == 0, out.stderr
    no_tools, lib = out.stdout.split()
    assert no_tools == "True"
    assert lib.startswith(str(fresh_venv)) and lib.endswith(LIB)


@pytest.mark.parametrize("backend", ["builtin", "litert"])
def test_installed_wheel_runs_a_guest_with_inference_like_the_in_tree_host(
    backend: str,
    fresh_venv: Path,
    build_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    guest = build_command_modules(load_target("host"), build_dir)["legacy_infer"]
    model = find_model("hello_world_int8")
    assert model is not None
    guest_args = ["./models/hello_world_int8.tflite", "1.5"]
    assert (
        cli_run(
            [
                "run",
                "host",
                str(guest),
                "--backend",
                backend,
                "--model",
                f"hello_world_int8={model}",
                "--",
                *guest_args,
            ]
        )
        == 0
    )
    in_tree = capsys.readouterr().out
    assert "output[0]=" in in_tree
    device_argv = [
        "-m",
        "edge_runtime",
        "run",
        str(guest),
        "--backend",
        backend,
        "--model",
        f"hello_world_int8={model}",
    ]
    device_argv += [f"--arg={a}" for a in guest_args]
    out = run_on_device(fresh_venv, device_argv, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == in_tree
