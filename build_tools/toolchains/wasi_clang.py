"""Adapter for clang-19 + wasm-ld-19 compiling C guests to wasm32-wasi reactor modules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..targets import GuestProfile
from . import runner

CLANG = "clang-19"
INSTALL_HINT = "apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"

# MVP + sign-ext + mutable-globals: what the WAMR interpreter, wasm2c and wasmtime all accept.
FEATURE_FLAGS = ["-mcpu=mvp", "-msign-ext", "-mmutable-globals"]


# EVP modules: WASI command modules (main) exporting the allocator the host hands buffers with.
EVP_MODULE_EXPORTS = ("malloc", "free")


def compile_argv(
    source: Path,
    output: Path,
    include_dirs: list[Path],
    profile: GuestProfile,
    *,
    exec_model: str = "reactor",
    exports: Sequence[str] = (),
) -> list[str]:
    """`exec_model` "reactor" (exports called by the runtime) or "command" (`_start` runs
    main, as EVP modules do); `exports` adds `-Wl,--export=NAME` for each name."""
    return [
        CLANG,
        "--target=wasm32-wasi",
        # -O2, not -Oz: libc dominates guest size (hello 29.6 -> 30.1 KB), while wasm2c's output
        # of -Oz code ran 1.41x native against 1.11x for -O2 (tests/bench/bench_wasm2c.py).
        "-O2",
        *FEATURE_FLAGS,
        f"-mexec-model={exec_model}",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        *[f"-I{d}" for d in include_dirs],
        "-Wl,--strip-all",
        *[f"-Wl,--export={name}" for name in exports],
        f"-Wl,-z,stack-size={profile.stack_kib * 1024}",
        f"-Wl,--initial-memory={profile.initial_memory_kib * 1024}",
        f"-Wl,--max-memory={profile.max_memory_kib * 1024}",
        "-o",
        str(output),
        str(source),
    ]


def compile_guest(
    source: Path,
    output: Path,
    include_dirs: list[Path],
    profile: GuestProfile,
    *,
    exec_model: str = "reactor",
    exports: Sequence[str] = (),
) -> None:
    runner.require(CLANG, INSTALL_HINT)
    argv = compile_argv(
        source, output, include_dirs, profile, exec_model=exec_model, exports=exports
    )
    runner.run(argv, f"compiling guest {source.name}")
