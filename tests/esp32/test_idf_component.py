"""The generated ESP-IDF project's CMake, run against a FAKE of ESP-IDF's CMake API
(fake_idf/tools/cmake/project.cmake: ESP-IDF itself cannot run here) with WAMR's real esp-idf
component from the pinned tree: under ESP_PLATFORM the runtime component compiles exactly the
description's project sources and no upstream source, requires the managed components of
src/idf_component.yml by the names the component manager gives them, and WAMR's component is
built with the runtime's WAMR options (the same WASM_ENABLE_* the engine glue sees)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest

from build_tools.firmware import esp_idf as firmware_esp
from build_tools.firmware.cmake import component_sources
from build_tools.targets import Target, load_target, with_runtime

from .check_generated import manifest
from .conftest import ESP_TARGETS, third_party

FAKE_IDF = Path(__file__).with_name("fake_idf")
# ESP-IDF's own components (not managed ones) the runtime component requires.
IDF_COMPONENTS = {"esp_partition", "esp_timer", "esp_driver_uart", "esp_driver_usb_serial_jtag"}
WAMR = "wasm-micro-runtime"
# The managed components each NN backend requires under ESP-IDF (the component manager's names).
BACKEND_COMPONENTS = {
    "builtin": set(),
    "tflm": {"espressif__esp-tflite-micro", "espressif__esp-nn"},
}
# The backends checked (each component file has its ESP-IDF branch).
BACKENDS = ("builtin", "tflm")
ARCH_CONFIG = {
    "xtensa": "CONFIG_IDF_TARGET_ARCH_XTENSA=y",
    "riscv32": "CONFIG_IDF_TARGET_ARCH_RISCV=y",
}


def run_fake_idf(project: Path, target: Target, components: dict[str, Path]) -> dict[str, dict]:
    """`pass name` -> what idf_component_register got, for each component and pass."""
    assert target.flash is not None
    defines = {
        "FAKE_IDF_TARGET": target.flash.chip,
        "FAKE_IDF_SDKCONFIG": str(project / "sdkconfig.defaults"),
        "FAKE_IDF_CONFIG": ARCH_CONFIG[target.arch],
        "FAKE_IDF_COMPONENTS": ";".join(f"{n}={d}" for n, d in components.items()),
    }
    argv = [
        "cmake",
        *(f"-D{k}={v}" for k, v in defines.items()),
        "-P",
        str(project / "CMakeLists.txt"),
    ]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "IDF_PATH": str(FAKE_IDF)},
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, dict] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("-- FAKE_IDF "):
            _, pass_, name, data = line[3:].split(" ", 3)
            out[f"{pass_} {name}"] = json.loads(data)
    return out


def esp_variant(name: str, backend: str) -> Target:
    """The ESP32 target with the given NN backend, under its own name so that its project does
    not replace the target's."""
    target = with_runtime(load_target(name), nn_backend=backend)
    return dataclasses.replace(target, name=f"{name}-{backend}")


@pytest.fixture(
    scope="module",
    params=[(t, b) for t in ESP_TARGETS for b in BACKENDS],
    ids=lambda p: "-".join(p),
)
def registered(request: pytest.FixtureRequest) -> tuple[Target, firmware_esp.Project, dict]:
    target = esp_variant(*request.param)
    project = firmware_esp.generate(target)
    components = {WAMR: third_party("wamr"), "src": project.directory / "src"}
    return target, project, run_fake_idf(project.directory, target, components)


def test_runtime_component_compiles_the_description_and_no_upstream_source(
    registered: tuple[Target, firmware_esp.Project, dict],
) -> None:
    target, project, reg = registered
    # The same configuration listed off ESP-IDF (print_sources.cmake): the project's own
    # sources, and upstream code (WAMR, TFLM) as EXTERNAL_SOURCES, which ESP-IDF's components
    # compile instead.
    lists = component_sources(target, project.sources)
    replaced = {p for k, v in lists.items() if k.endswith("_IDF_REPLACED_SOURCES") for p in v}
    expected = [
        p
        for p in (
            *lists["RT_CORE_SOURCES"],
            *lists["RT_PROTO_SOURCES"],
            *lists["RT_ENGINE_SOURCES"],
            *lists["RT_NN_SOURCES"],
            *lists["RT_PLATFORM_SOURCES"],
        )
        if p not in replaced
    ]
    srcs = [Path(s) for s in reg["build src"]["SRCS"]]
    assert srcs == expected
    upstream = {*lists["RT_ENGINE_EXTERNAL_SOURCES"], *lists["RT_NN_EXTERNAL_SOURCES"]}
    assert lists["RT_ENGINE_EXTERNAL_SOURCES"], "premise: off ESP-IDF the engine lists WAMR"
    assert not upstream & set(srcs), "upstream code compiled a second time"
    wamr_root = third_party("wamr")
    assert not [s for s in srcs if s.is_relative_to(wamr_root)], "WAMR compiled twice"
    names = {s.name for s in srcs}
    assert {"rt_eng_wamr.c", "rt_wamr_natives.c", "rt_esp_os.c"} <= names


def test_requirements_are_the_manifests_components(
    registered: tuple[Target, firmware_esp.Project, dict],
) -> None:
    """Both passes declare the same requirements; the managed ones are dependencies of
    src/idf_component.yml under the component manager's build names (namespace/name ->
    namespace__name), the rest ESP-IDF's own components."""
    target, project, reg = registered
    declared = manifest(str(project.directory / "src"))
    assert declared["valid"], declared
    build_names = {str(d).replace("/", "__") for d in declared["dependencies"]} - {"idf"}
    for pass_ in ("requirements", "build"):
        src = reg[f"{pass_} src"]
        assert src["REQUIRES"] == []
        priv = src["PRIV_REQUIRES"]
        assert len(priv) == len(set(priv))
        managed = set(priv) - IDF_COMPONENTS
        assert managed == {WAMR} | BACKEND_COMPONENTS[target.runtime.nn_backend]
        assert managed <= build_names
        assert set(priv) - managed == IDF_COMPONENTS


def test_wamr_component_is_built_with_the_runtimes_options(
    registered: tuple[Target, firmware_esp.Project, dict],
) -> None:
    """WAMR's own esp-idf component (compiled once) gets the runtime's WAMR options from the
    project scope and the interpreter from sdkconfig.defaults; the engine glue sees the same
    definitions (rt_eng_wamr.c reads WAMR's exec env, whose layout depends on them)."""
    target, _, reg = registered
    wamr = reg[f"build {WAMR}"]
    defs = set(wamr["DEFINITIONS"])
    for d in (
        "-DWASM_ENABLE_THREAD_MGR=1",
        "-DWASM_MEM_ALLOC_WITH_USAGE=1",
        "-DBH_VPRINTF=rt_wamr_vprintf",
        "-DWASM_DISABLE_HW_BOUND_CHECK=1",
        "-DBH_PLATFORM_ESP_IDF",
    ):
        assert d in defs, d
    fast = target.runtime.wamr_interp == "fast"
    assert ("-DWASM_ENABLE_FAST_INTERP=1" in defs) == fast
    assert not {
        d for d in defs if d.startswith(("-DWASM_ENABLE_AOT=1", "-DWASM_ENABLE_LIBC_WASI=1"))
    }
    names = {Path(s).name for s in wamr["SRCS"]}
    assert "thread_manager.c" in names
    assert ("wasm_interp_fast.c" if fast else "wasm_interp_classic.c") in names
    assert {"espidf_platform.c", "wasm_loader.c"} <= names and "wasm_mini_loader.c" not in names
    src_defs = {d for d in reg["build src"]["DEFINITIONS"] if d.startswith(("-DWASM_", "-DBH_"))}
    assert src_defs == {d for d in defs if d.startswith(("-DWASM_", "-DBH_"))}
