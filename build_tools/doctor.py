"""Which external tools a target needs, whether they are here, and how to install what is not.

Requirements are derived from target fields (runtime, engine, backend, platform, build system,
connection), never from board names.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import third_party
from .targets import Target
from .toolchains import platformio, wabt


@dataclass(frozen=True)
class Tool:
    name: str
    purpose: str
    install: str
    binary: str | None = None
    module: str | None = None
    file: str | None = None

    def present(self) -> bool:
        if self.binary is not None:
            return shutil.which(self.binary) is not None
        if self.module is not None:
            return importlib.util.find_spec(self.module) is not None
        assert self.file is not None
        return Path(self.file).exists()


def _apt(pkgs: str) -> str:
    return f"sudo apt-get update && sudo apt-get install -y {pkgs}"


PIP_PROJECT = "pip install -e '.[dev]'  (or: bash ci/setup.sh)"

TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("clang-19", "compiles C guests to wasm32-wasi", _apt("clang-19"), binary="clang-19"),
        Tool("wasm-ld-19", "links wasm guests", _apt("lld-19"), binary="wasm-ld-19"),
        Tool(
            "wasi-libc",
            "C library for guests",
            _apt("wasi-libc libclang-rt-19-dev-wasm32"),
            file="/usr/include/wasm32-wasi/stdio.h",
        ),
        Tool("wabt", "wasm-validate / wat2wasm / wasm2c", _apt("wabt"), binary="wasm-validate"),
        Tool(
            "wasm2c-runtime",
            "wabt's wasm2c runtime sources",
            _apt("wabt"),
            file=str(wabt.wasm2c_runtime_dir() / "wasm-rt-impl.c"),
        ),
        Tool("cmake", "builds the C runtime", _apt("cmake"), binary="cmake"),
        Tool("cc", "native C compiler for the POSIX runtime", _apt("gcc"), binary="cc"),
        Tool(
            "riscv64-unknown-elf-gcc",
            "cross-compiles the bare-metal rv32 firmware",
            _apt("gcc-riscv64-unknown-elf"),
            binary="riscv64-unknown-elf-gcc",
        ),
        Tool(
            "picolibc",
            "C library for the bare-metal firmware",
            _apt("picolibc-riscv64-unknown-elf"),
            file="/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs",
        ),
        Tool(
            "qemu-system-riscv32",
            "emulates the rv32 MCU",
            _apt("qemu-system-misc"),
            binary="qemu-system-riscv32",
        ),
        Tool(
            "mosquitto",
            "MQTT broker for deployment tests",
            _apt("mosquitto mosquitto-clients"),
            binary="mosquitto",
        ),
        Tool("platformio", "builds ESP32 firmware (ESP-IDF)", PIP_PROJECT, module="platformio"),
        Tool(
            "espressif32",
            f"PlatformIO platform {platformio.PLATFORM_SPEC} (ESP-IDF + toolchains; internet once)",
            platformio.INSTALL_HINT,
            file=str(platformio.platform_json()),
        ),
        Tool("esptool", "flashes ESP32 boards", PIP_PROJECT, module="esptool"),
        Tool("pyserial", "talks to boards over serial", PIP_PROJECT, module="serial"),
        Tool("wasmtime", "the Python wasm host", PIP_PROJECT, module="wasmtime"),
        Tool(
            "ai-edge-litert",
            "LiteRT NN backend of the Python host",
            PIP_PROJECT,
            module="ai_edge_litert",
        ),
        Tool(
            "tflite-micro",
            "TFLM NN backend / numerics oracle (x86_64 wheels only)",
            PIP_PROJECT,
            module="tflite_micro",
        ),
        Tool(
            "tflite-runtime",
            "older TFLite NN backend (needs numpy<2: separate venv)",
            "pip install tflite-runtime==2.14.0 'numpy<2'",
            module="tflite_runtime",
        ),
        Tool("paramiko", "deploys to a Raspberry Pi over SSH", PIP_PROJECT, module="paramiko"),
        Tool(
            "ld.lld", "links the runtime wheel's native library", _apt("lld-19"), binary="ld.lld-19"
        ),
        Tool(
            "arm64-cross-libc",
            "C library and libgcc to cross-build the aarch64 runtime wheel's libnnb",
            _apt("libc6-dev-arm64-cross libgcc-12-dev-arm64-cross"),
            file="/usr/aarch64-linux-gnu/include/stdio.h",
        ),
    )
}

GUEST_TOOLS = ("clang-19", "wasm-ld-19", "wasi-libc", "wabt")
BACKEND_TOOLS = {
    "litert": ("ai-edge-litert",),
    "tflm": ("tflite-micro",),
    "tflite-runtime": ("tflite-runtime",),
    "builtin": ("cmake", "cc"),
}


# What each target field value needs (tables, not branches: a new platform is a new row).
ENGINE_TOOLS = {"wasm2c": ("wabt", "wasm2c-runtime")}
PLATFORM_TOOLS = {
    "posix": ("cc",),
    "qemu-rv32": ("riscv64-unknown-elf-gcc", "picolibc"),
}
BUILD_SYSTEM_TOOLS = {"cmake": ("cmake",), "platformio": ("platformio", "espressif32")}
TRANSPORT_TOOLS = {
    "qemu": ("qemu-system-riscv32", "pyserial"),
    "serial": ("pyserial",),
    "ssh": ("paramiko",),
}
# A python-host target reached over SSH gets the runtime wheel (build_tools/runtime_wheel.py):
# libnnb built with cmake + clang-19 + lld for the target's arch, cross where it is not native.
WHEEL_TRANSPORTS = {"ssh"}
WHEEL_TOOLS = ("cmake", "clang-19", "ld.lld")
WHEEL_ARCH_TOOLS = {"aarch64": ("arm64-cross-libc",)}


def required_tools(target: Target) -> list[str]:
    r = target.runtime
    need: list[str] = list(GUEST_TOOLS)
    if r.kind == "python-host":
        need += ["wasmtime", *BACKEND_TOOLS[r.nn_backend]]
    need += ENGINE_TOOLS.get(r.engine, ())
    need += BUILD_SYSTEM_TOOLS.get(target.build.system, ())
    need += PLATFORM_TOOLS.get(r.platform, ())
    if target.flash is not None:
        need.append("esptool")
    need += TRANSPORT_TOOLS.get(target.connection.transport, ())
    if r.kind == "python-host" and target.connection.transport in WHEEL_TRANSPORTS:
        need += [*WHEEL_TOOLS, *WHEEL_ARCH_TOOLS.get(target.arch, ())]
    return list(dict.fromkeys(need))


@dataclass(frozen=True)
class Check:
    tool: Tool
    present: bool


def check(names: list[str]) -> list[Check]:
    return [Check(TOOLS[n], TOOLS[n].present()) for n in names]


# Pinned upstream sources (third_party.toml) each target field needs.
ENGINE_SOURCES: dict[str, tuple[str, ...]] = {"wamr": ("wamr",)}
BACKEND_SOURCES: dict[str, tuple[str, ...]] = {"tflm": ("esp-tflite-micro", "esp-nn")}
BUILD_SYSTEM_SOURCES: dict[str, tuple[str, ...]] = {"platformio": ("platform-espressif32",)}


def required_sources(target: Target) -> list[str]:
    """Upstream dependencies of the lock file that building this target needs."""
    if target.runtime.kind != "c":
        return []
    need = [
        *ENGINE_SOURCES.get(target.runtime.engine, ()),
        *BACKEND_SOURCES.get(target.runtime.nn_backend, ()),
        *BUILD_SYSTEM_SOURCES.get(target.build.system, ()),
    ]
    return list(dict.fromkeys(need))


def check_sources(names: list[str]) -> list[third_party.Status]:
    return [third_party.status(n) for n in names]
