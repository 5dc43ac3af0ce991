"""Adapter for the WebAssembly Binary Toolkit (Debian's wabt): wasm-validate, wat2wasm, wasm2c."""

from __future__ import annotations

from pathlib import Path

from . import runner

INSTALL_HINT = "apt-get install -y wabt"

# The strict feature set every engine of this project accepts (docs/abi.md, section 1).
STRICT_FEATURES = [
    "--disable-reference-types",
    "--disable-multi-value",
    "--disable-bulk-memory",
    "--disable-saturating-float-to-int",
    "--disable-simd",
]


def validate_argv(wasm: Path) -> list[str]:
    return ["wasm-validate", *STRICT_FEATURES, str(wasm)]


def validate(wasm: Path) -> None:
    runner.require("wasm-validate", INSTALL_HINT)
    runner.run(validate_argv(wasm), f"validating {wasm.name} (MVP + sign-ext + mutable-globals)")


def wat2wasm_argv(wat: Path, output: Path) -> list[str]:
    return ["wat2wasm", *STRICT_FEATURES, "-o", str(output), str(wat)]


def wat2wasm(wat: Path, output: Path) -> None:
    runner.require("wat2wasm", INSTALL_HINT)
    runner.run(wat2wasm_argv(wat, output), f"assembling {wat.name}")


def wasm2c_argv(wasm: Path, output_c: Path, module_name: str) -> list[str]:
    # No STRICT_FEATURES here: wabt 1.0.32's wasm2c refuses to run with reference types, bulk
    # memory or SIMD disabled ("only supports a limited set of features"). Guests are already
    # validated with the strict set when they are built.
    return ["wasm2c", "-n", module_name, "-o", str(output_c), str(wasm)]


def wasm2c(wasm: Path, output_c: Path, module_name: str) -> None:
    runner.require("wasm2c", INSTALL_HINT)
    runner.run(wasm2c_argv(wasm, output_c, module_name), f"translating {wasm.name} with wasm2c")


def wasm2c_runtime_dir() -> Path:
    """wabt's runtime sources as Debian ships them; used at build time, never copied."""
    return Path("/usr/src/wasm2c")
