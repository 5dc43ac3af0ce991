from __future__ import annotations

from pathlib import Path

from build_tools.targets import GuestProfile
from build_tools.toolchains import wabt, wasi_clang

PROFILE = GuestProfile(
    stack_kib=8, initial_memory_kib=64, max_memory_kib=1024, modules=(), models=()
)


def test_wasi_clang_argv() -> None:
    argv = wasi_clang.compile_argv(Path("g/x.c"), Path("o/x.wasm"), [Path("inc")], PROFILE)
    assert argv == [
        "clang-19", "--target=wasm32-wasi", "-O2", "-mcpu=mvp", "-msign-ext", "-mmutable-globals",
        "-mexec-model=reactor", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Iinc",
        "-Wl,--strip-all", "-Wl,-z,stack-size=8192", "-Wl,--initial-memory=65536",
        "-Wl,--max-memory=1048576", "-o", "o/x.wasm", "g/x.c",
    ]  # fmt: skip


def test_wasm_validate_argv_is_strict() -> None:
    assert wabt.validate_argv(Path("x.wasm")) == [
        "wasm-validate", "--disable-reference-types", "--disable-multi-value",
        "--disable-bulk-memory", "--disable-saturating-float-to-int", "--disable-simd", "x.wasm",
    ]  # fmt: skip


def test_wasm2c_and_wat2wasm_argv() -> None:
    assert wabt.wasm2c_argv(Path("a.wasm"), Path("a.c"), "guest")[-5:] == [
        "-n", "guest", "-o", "a.c", "a.wasm",
    ]  # fmt: skip
    assert wabt.wat2wasm_argv(Path("a.wat"), Path("a.wasm"))[-3:] == ["-o", "a.wasm", "a.wat"]
