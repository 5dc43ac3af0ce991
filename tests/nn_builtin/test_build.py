"""The cmake adapter's command lines (exact argv), its configure-once behaviour and errors;
the operator-name table; the bare-metal rv32 cross-compile of the library."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from build_tools import nnb
from build_tools.errors import ToolchainError
from build_tools.toolchains import cmake


def test_configure_argv_is_exact() -> None:
    argv = cmake.configure_argv(
        Path("src/nnb"),
        Path("build/nnb/asan"),
        {"NNB_SANITIZE": True, "CMAKE_C_COMPILER": "clang-19", "N": 3},
    )
    assert argv == [
        "cmake", "-S", "src/nnb", "-B", "build/nnb/asan",
        "-DCMAKE_C_COMPILER=clang-19", "-DN=3", "-DNNB_SANITIZE=ON",
    ]  # fmt: skip


def test_configure_argv_without_defines() -> None:
    assert cmake.configure_argv("s", "b", {}) == ["cmake", "-S", "s", "-B", "b"]


def test_build_argv_is_exact() -> None:
    assert cmake.build_argv(Path("b")) == ["cmake", "--build", "b", "--parallel", "2"]
    assert cmake.build_argv("b", target="nnb_shared", jobs=4) == [
        "cmake", "--build", "b", "--parallel", "4", "--target", "nnb_shared",
    ]  # fmt: skip


def _tiny_project(root: Path, body: str) -> Path:
    src = root / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.16)\nproject(t C)\n" + body
    )
    (src / "t.c").write_text("int t(void) { return 1; }\n")
    return src


def test_build_configures_once_and_logs_argv(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed")
    src = _tiny_project(tmp_path, "add_library(t STATIC t.c)\n")
    out = tmp_path / "build"
    caplog.set_level(logging.DEBUG)
    cmake.build(src, out, {"X": "1"}, target="t")
    assert (out / "libt.a").is_file()
    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run:")]
    assert any(" -S " in m and "-DX=1" in m for m in runs)
    caplog.clear()
    cmake.build(src, out, {"X": "1"}, target="t")  # same defines: no configure
    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run:")]
    assert runs and all(" -S " not in m for m in runs)
    caplog.clear()
    cmake.build(src, out, {"X": "2"}, target="t")  # changed defines: configure again
    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run:")]
    assert any("-DX=2" in m for m in runs)


def test_build_failure_raises_with_the_tool_output(tmp_path: Path) -> None:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed")
    src = _tiny_project(tmp_path, 'message(FATAL_ERROR "nnb-test-marker")\n')
    with pytest.raises(ToolchainError) as e:
        cmake.build(src, tmp_path / "build", {})
    assert "cmake configure" in str(e.value) and "nnb-test-marker" in str(e.value)


def test_operator_names_match_the_schema() -> None:
    from tests.nn_builtin import gen_opnames

    table = re.findall(r'^    "([A-Z0-9_]+)",$', gen_opnames.TARGET.read_text(), re.M)
    names = gen_opnames.names()
    assert table[28] == "TANH" and table[114] == "QUANTIZE"
    for code, name in enumerate(table):
        if code in names:
            assert names[code] == name, code


RV32 = [
    "riscv64-unknown-elf-gcc", "-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs",
    "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
]  # fmt: skip

RV32_MAIN = r"""
#include "nnb.h"
static nnb_model_t m;
static nnb_interp_t it;
static unsigned char arena[4096];
extern const unsigned char model[];
extern const unsigned long model_len;
const unsigned char model[16] = {0};
const unsigned long model_len = 16;
int main(void) {
    nnb_error_t err;
    if (nnb_model_parse(&m, model, model_len, &err) != NNB_OK) return 1;
    if (nnb_interp_init(&it, &m, arena, sizeof arena, &err) != NNB_OK) return 2;
    return nnb_invoke(&it, &err);
}
"""


def test_cross_compiles_and_links_for_bare_metal_rv32(tmp_path: Path) -> None:
    if shutil.which(RV32[0]) is None:
        pytest.skip("riscv64-unknown-elf-gcc not installed (ci/setup.sh installs it)")
    src = nnb.SOURCE_DIR
    main = tmp_path / "main.c"
    main.write_text(RV32_MAIN)
    elf = tmp_path / "nnb.elf"
    sources = sorted(str(p) for p in src.glob("nnb_*.c"))
    proc = subprocess.run(
        [
            *RV32,
            f"-I{src}",
            "-ffunction-sections",
            "-fdata-sections",
            "-Wl,--gc-sections",
            "-o",
            str(elf),
            str(main),
            *sources,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # no libm: nothing the library needs beyond picolibc's libc and libgcc
    nm = subprocess.run(
        ["riscv64-unknown-elf-nm", str(elf)], capture_output=True, text=True, check=True
    )
    for sym in ("frexp", "round", "roundf", "malloc", "calloc"):
        assert not re.search(rf"\b{sym}\b", nm.stdout), sym
