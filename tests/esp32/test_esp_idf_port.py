"""The ESP-IDF platform port without ESP-IDF: its portable part (rt_esp_port.c, rt_esp_store.c)
compiles for rv32 with the Debian toolchain under the project's strict flags, rt_esp_os.c is the
only file that includes ESP-IDF headers, and the C store reader/appender agrees with the
Python image writer in both directions."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from build_tools import runtime_c
from build_tools import store_image as st
from build_tools.render import render_to
from build_tools.targets import load_target
from build_tools.toolchains import cmake, riscv_gcc, wabt

from .conftest import ESP_TARGETS

RT = runtime_c.runtime_dir()
PORT = RT / "platform" / "esp-idf"
ESP_IDF_HEADER = re.compile(r'#include\s+[<"](esp_\w+|freertos/|driver/|sdkconfig)')


def _component_lists() -> dict[str, list[str]]:
    text = (PORT / "component.cmake").read_text()
    out = {}
    for m in re.finditer(r"set\((RT_PLATFORM_\w*SOURCES)(.*?)\)", text, re.S):
        out[m.group(1)] = re.findall(r"\$\{CMAKE_CURRENT_LIST_DIR\}/(\S+)", m.group(2))
    return out


def test_only_esp_os_c_includes_esp_idf_headers() -> None:
    lists = _component_lists()
    assert sorted(lists["RT_PLATFORM_SOURCES"]) == [
        "rt_esp_os.c",
        "rt_esp_port.c",
        "rt_esp_store.c",
    ]
    portable = lists["RT_PLATFORM_PORTABLE_SOURCES"]
    assert sorted(portable) == ["rt_esp_port.c", "rt_esp_store.c"]
    for f in PORT.glob("*.[ch]"):
        uses_idf = bool(ESP_IDF_HEADER.search(f.read_text()))
        assert uses_idf == (f.name == "rt_esp_os.c"), f.name


@pytest.mark.parametrize("name", ESP_TARGETS)
def test_portable_part_compiles_for_rv32_with_strict_flags(name: str, tmp_path: Path) -> None:
    target = load_target(name)
    render_to("rt_config.h.j2", target, tmp_path / "rt_config.h")
    includes = [
        tmp_path,
        RT / "include",
        RT / "core",
        RT / "engines",
        RT / "nn",
        RT / "proto",
        PORT,
    ]
    for src in _component_lists()["RT_PLATFORM_PORTABLE_SOURCES"]:
        obj = tmp_path / f"{src}.o"
        riscv_gcc.compile_c(PORT / src, obj, includes, [], strict=True)
        assert obj.stat().st_size > 0
    # the same for the rv32 build of the core the port calls into (rt_set_model_table)
    riscv_gcc.compile_c(RT / "core" / "rt_core.c", tmp_path / "core.o", includes, [])


@pytest.fixture(scope="module")
def store_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host build of rt_esp_store.c with its test driver (cc, the project's strict flags)."""
    out = tmp_path_factory.mktemp("store") / "store_check"
    cfg = out.parent / "rt_config.h"
    render_to("rt_config.h.j2", load_target("esp32c3"), cfg)
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            f"-I{out.parent}",
            f"-I{RT / 'include'}",
            f"-I{RT / 'proto'}",
            f"-I{PORT}",
            "-o",
            str(out),
            str(PORT / "test" / "store_check.c"),
            str(PORT / "rt_esp_store.c"),
            str(RT / "proto" / "proto_hash.c"),
        ],
        check=True,
    )
    return out


def _run(tool: Path, *args: object) -> list[str]:
    proc = subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def _items() -> list[st.StoreItem]:
    return [
        st.StoreItem(st.KIND_MODULE, "hello", os.urandom(3001)),
        st.StoreItem(st.KIND_MODEL, "vww", os.urandom(70_000)),
        st.StoreItem(st.KIND_MODEL, "kws", os.urandom(5)),
    ]


def test_c_reads_what_python_writes(store_check: Path, tmp_path: Path) -> None:
    items = _items()
    image = st.build_image(items) + b"\xff" * 65536  # the rest of the partition, erased
    path = tmp_path / "store.bin"
    path.write_bytes(image)
    lines = _run(store_check, path)
    py = st.parse_image(image)
    assert lines[:-1] == [
        f"{r.offset} {r.kind} {int(r.live)} {r.size} {r.name} {r.sha256} {r.data_offset}"
        for r in py
    ]
    end = py[-1].data_offset + py[-1].size
    assert (
        lines[-1] == f"end {(end + 15) // 16 * 16} free {len(image) - (end + 15) // 16 * 16 - 128}"
    )
    models = _run(store_check, path, "models")
    assert [ln.split()[:2] for ln in models] == [["vww", "70000"], ["kws", "5"]]
    for ln, item in zip(models, items[1:], strict=True):
        _, size, sha, offset = ln.split()
        assert sha == hashlib.sha256(item.data).hexdigest()
        assert image[int(offset) : int(offset) + int(size)] == item.data  # in place, aligned
        assert int(offset) % 16 == 0


def test_python_reads_what_c_appends_and_deletes(store_check: Path, tmp_path: Path) -> None:
    items = _items()
    image = st.build_image(items) + b"\xff" * (3 * 4096)
    # stale bytes beyond the erased tail: the appender must erase before writing
    image = image[:-4096] + os.urandom(4096)
    path = tmp_path / "store.bin"
    path.write_bytes(image)
    new = os.urandom(9000)
    (tmp_path / "new.tflite").write_bytes(new)
    out = tmp_path / "appended.bin"
    assert _run(store_check, path, "append", 1, "vww", tmp_path / "new.tflite", out) == ["status 0"]
    live = st.live_items(out.read_bytes())
    assert live[(st.KIND_MODEL, "vww")] == new  # the upload shadows the image's model
    assert live[(st.KIND_MODEL, "kws")] == items[2].data
    assert live[(st.KIND_MODULE, "hello")] == items[0].data
    appended = st.parse_image(out.read_bytes())[-1]
    models = _run(store_check, out, "models")
    assert models[0].split()[:3] == ["vww", "9000", hashlib.sha256(new).hexdigest()]
    deleted = tmp_path / "deleted.bin"
    assert _run(store_check, out, "delete", appended.offset, deleted) == ["status 0"]
    assert (st.KIND_MODEL, "vww") not in st.live_items(deleted.read_bytes())


def test_an_append_that_does_not_fit_is_refused(store_check: Path, tmp_path: Path) -> None:
    image = st.build_image(_items())  # no free sector after the records
    path = tmp_path / "store.bin"
    path.write_bytes(image)
    (tmp_path / "big").write_bytes(os.urandom(len(image)))
    proc = subprocess.run(
        [str(store_check), str(path), "append", "0", "big", str(tmp_path / "big"), "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout.strip() == "status 5"  # RT_ERR_NO_SPACE


def test_the_runtime_description_lists_the_port(tmp_path: Path) -> None:
    """runtime_c/cmake/rt_components.cmake (what the generated ESP-IDF component includes)
    accepts the esp-idf platform and lists exactly its three files."""
    target = load_target("esp32c3")
    render_to("rt_config.h.j2", target, tmp_path / "config" / "rt_config.h")
    (tmp_path / "rt_gen.cmake").write_text(runtime_c.gen_cmake_source(tmp_path, []))
    lines = cmake.run_script(
        RT / "cmake" / "print_sources.cmake",
        {
            "RT_ENGINE": "wasm2c",  # the engines/backends whose descriptions exist here
            "RT_NN": "builtin",
            "RT_PLATFORM": "esp-idf",
            "RT_CONFIG_DIR": str(tmp_path / "config"),
            "RT_GEN_DIR": str(tmp_path),
            "WASM2C_RUNTIME_DIR": str(wabt.wasm2c_runtime_dir()),
        },
    )
    platform = next(ln for ln in lines if ln.startswith("RT_PLATFORM_SOURCES="))
    files = sorted(Path(p).name for p in platform.split("=", 1)[1].split(";"))
    assert files == ["rt_esp_os.c", "rt_esp_port.c", "rt_esp_store.c"]


def test_put_is_content_addressed(store_check: Path, tmp_path: Path) -> None:
    """An upload identical to what is stored is not written again (PRESENT, flash unchanged);
    a changed one is appended and read back in place."""
    items = _items()
    image = st.build_image(items) + b"\xff" * (8 * 4096)
    path = tmp_path / "store.bin"
    path.write_bytes(image)
    (tmp_path / "same").write_bytes(items[1].data)
    out = tmp_path / "out.bin"
    status = _run(store_check, path, "put", 1, "vww", tmp_path / "same", out)
    vww = st.parse_image(image)[1]
    assert status == [f"status 1 at {vww.data_offset} same 1"]  # RT_PRESENT
    assert out.read_bytes() == image  # nothing written
    (tmp_path / "other").write_bytes(os.urandom(12_345))
    (line,) = _run(store_check, path, "put", 0, "hello", tmp_path / "other", out)
    assert line.startswith("status 0 at ") and line.endswith(" same 1")
    assert (
        st.live_items(out.read_bytes())[(st.KIND_MODULE, "hello")]
        == (tmp_path / "other").read_bytes()
    )
