"""The one description of the C build (runtime_c/**/component.cmake): every project source is
listed exactly once, every consumer reads it, and the builder's CMake arguments are pure."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from build_tools import firmware, runtime_c
from build_tools.errors import ToolchainError
from build_tools.firmware import cmake as fw_cmake
from build_tools.guests import build_guests
from build_tools.paths import build_root
from build_tools.targets import load_target, with_runtime
from build_tools.toolchains import cmake, wabt

RT = runtime_c.runtime_dir()
# Not part of any runtime image: tests, fuzz harnesses and command-line tools of a component.
NOT_IN_IMAGES = ("test", "fuzz", "tools")


def _project_sources() -> set[Path]:
    found = set()
    for ext in ("*.c", "*.cc", "*.S"):
        for p in RT.rglob(ext):
            rel = p.relative_to(RT).parts
            if not any(part in NOT_IN_IMAGES for part in rel):
                found.add(p.resolve())
    return found


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[Path]]]:
    """Component lists of every CMake-built target, as the description itself prints them."""
    out: dict[str, dict[str, list[Path]]] = {}
    root = tmp_path_factory.mktemp("build")
    for name in ("posix", "qemu-rv32"):
        for engine in ("wasm2c", "wamr"):
            target = with_runtime(load_target(name), engine=engine)
            gen_dir = root / name / engine / "gen"
            gen = runtime_c.generate_sources(target, build_guests(target, root), gen_dir)
            script = fw_cmake.render_linker_script(target, gen.directory / "linker.ld")
            out[f"{name}/{engine}"] = fw_cmake.component_sources(target, gen, script)
    return out


def test_every_project_source_is_in_exactly_one_component(
    described: dict[str, dict[str, list[Path]]],
) -> None:
    listed: dict[Path, set[str]] = {}
    for config in described.values():
        for var, files in config.items():
            if var.startswith("RT_GEN_") or "EXTERNAL" in var:
                continue
            for f in files:
                listed.setdefault(f.resolve(), set()).add(var)
    # The engines, backends and platforms not in these two configurations are described by
    # their own component.cmake; the ones here must cover their folders completely.
    used = {
        p
        for p in _project_sources()
        if p.parts[len(RT.parts)] in ("core", "proto")
        or p.is_relative_to(RT / "engines" / "wasm2c")
        or p.is_relative_to(RT / "engines" / "wamr")
        or p.is_relative_to(RT / "nn" / "builtin")
        or p == (RT / "nn" / "builtin_glue.c")
        or p.is_relative_to(RT / "platform" / "posix")
        or (p.is_relative_to(RT / "platform" / "qemu-rv32") and p.name != "protofw_main.c")
    }
    assert used - set(listed) == set(), "sources no component lists"
    assert {f: v for f, v in listed.items() if len(v) > 1} == {}


def test_generated_sources_are_listed_not_globbed(tmp_path: Path, build_dir: Path) -> None:
    target = load_target("posix")
    guests = build_guests(target)
    gen = runtime_c.generate_sources(target, guests, tmp_path / "gen")
    text = (tmp_path / "gen" / "rt_gen.cmake").read_text()
    for m in gen.modules:
        assert f'"{m.source.as_posix()}"' in text
    fewer = runtime_c.gen_cmake_source(tmp_path / "gen", gen.modules[:1])
    assert fewer != text and "w2c_classify.c" not in fewer


def test_libnnb_and_proto_builds_read_the_same_lists() -> None:
    for sub in ("nn/builtin/CMakeLists.txt", "proto/CMakeLists.txt"):
        text = (RT / sub).read_text()
        assert "include(${CMAKE_CURRENT_SOURCE_DIR}/" in text and "component.cmake" in text, sub
        assert not re.search(
            r"\b\w+\.c\b(?!\w)",
            text.replace("proto_testdev.c", "")
            .replace("fuzz_model.c", "")
            .replace("fuzz_frames.c", "")
            .replace("nnb_check.c", ""),
        ), sub


def test_cmake_defines_are_pure() -> None:
    posix = load_target("posix")
    gen = runtime_c.GeneratedSources(Path("/g"), Path("/g/config"), [], [], [])
    assert fw_cmake.cmake_defines(posix, gen, True, None) == {
        "RT_APP": "runtime",
        "RT_ENGINE": "wasm2c",
        "RT_NN": "builtin",
        "RT_PLATFORM": "posix",
        "RT_SANITIZE": "ON",
        "CMAKE_BUILD_TYPE": "Release",
        "WASM2C_RUNTIME_DIR": str(wabt.wasm2c_runtime_dir()),
        "RT_CONFIG_DIR": "/g/config",
        "RT_GEN_DIR": "/g",
    }
    qemu = load_target("qemu-rv32")
    d = fw_cmake.cmake_defines(qemu, gen, False, Path("/l.ld"))
    assert d["CMAKE_TOOLCHAIN_FILE"] == str(RT / "platform" / "qemu-rv32" / "toolchain.cmake")
    assert d["RT_LINKER_SCRIPT"] == "/l.ld"
    wamr = with_runtime(posix, engine="wamr")
    d = fw_cmake.cmake_defines(wamr, gen, False, None)
    assert d["WAMR_ROOT"] == str(build_root() / "third_party" / "wamr")
    assert d["RT_WAMR_INTERP"] == "fast"
    classic = dataclasses.replace(
        wamr, runtime=dataclasses.replace(wamr.runtime, wamr_interp="classic")
    )
    assert fw_cmake.cmake_defines(classic, gen, False, None)["RT_WAMR_INTERP"] == "classic"
    assert fw_cmake.variant_dir(classic) != fw_cmake.variant_dir(wamr)
    tflm = with_runtime(posix, nn_backend="tflm")
    up = fw_cmake.nn_upstream_defines(tflm, Path("/u/gen"), False)
    assert up == fw_cmake.nn_upstream_defines(
        with_runtime(tflm, engine="wamr"), Path("/u/gen"), False
    )  # nothing of the engine: one library serves both engine configurations
    assert up == {
        "RT_NN": "tflm",
        "RT_GEN_DIR": "/u/gen",
        "RT_SANITIZE": "OFF",
        "CMAKE_BUILD_TYPE": "Release",
        "ESP_TFLITE_MICRO_ROOT": str(build_root() / "third_party" / "esp-tflite-micro"),
        "ESP_NN_ROOT": str(build_root() / "third_party" / "esp-nn"),
    }
    assert fw_cmake.nn_upstream_dir(tflm) == fw_cmake.nn_upstream_dir(
        with_runtime(tflm, engine="wamr")
    )
    assert fw_cmake.nn_upstream_dir(tflm, True) != fw_cmake.nn_upstream_dir(tflm)
    assert cmake.script_argv("s.cmake", {"B": "2", "A": True}) == [
        "cmake",
        "-DA=ON",
        "-DB=2",
        "-P",
        "s.cmake",
    ]


def test_builders_are_chosen_by_build_system() -> None:
    assert isinstance(firmware.builder_for(load_target("posix")), fw_cmake.CMakeBuilder)
    assert isinstance(firmware.builder_for(load_target("qemu-rv32")), fw_cmake.CMakeBuilder)
    assert firmware.builder_for(load_target("host")) is None


def test_each_configuration_has_its_own_build_directory() -> None:
    posix = load_target("posix")
    dirs = {
        fw_cmake.variant_dir(with_runtime(posix, e, b), s)
        for e in ("wasm2c", "wamr")
        for b in ("builtin", "tflm")
        for s in (False, True)
    }
    assert len(dirs) == 8


def test_unbuildable_component_is_one_line(build_dir: Path) -> None:
    target = load_target("posix")
    broken = dataclasses.replace(
        target, runtime=dataclasses.replace(target.runtime, platform="no-such-platform")
    )
    with pytest.raises(
        ToolchainError, match=r"runtime\.platform names runtime_c/platform/no-such-platform"
    ):
        fw_cmake.CMakeBuilder().build(broken)
