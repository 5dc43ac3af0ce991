"""Firmware images for bare-metal targets on QEMU (runtime.platform = "qemu-rv32").

Drives riscv64-unknown-elf-gcc directly rather than through CMake: the image is a flat list of
sources with two flag sets (strict project code, relaxed generated code), the linker script is
rendered from the target file, and the link step has to turn region overflows into "does not
fit" errors. A per-object stamp (argv + source + headers) keeps rebuilds incremental, and objects
compile in parallel.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BuildToolsError
from .guests import BuildResult, build_guests
from .paths import build_root, repo_root
from .render import render_to
from .targets import Target
from .toolchains import riscv_gcc, wabt

if TYPE_CHECKING:
    from .runtime_c import GeneratedSources

log = logging.getLogger(__name__)

FLASH_BASE = 0x80000000
# RAM sits 4 MiB above flash inside QEMU's 8 MiB of DRAM, whatever the budgets (<= 4 MiB each).
RAM_BASE = 0x80400000
STACK_BYTES = 16 * 1024
MAX_FLASH_KIB = 4096


@dataclass(frozen=True)
class Source:
    path: Path
    component: (
        str  # for footprint reports: platform, core, engine, backend, proto, guest:x, model:x
    )
    strict: bool = True  # project code: -std=c99 -Wall -Wextra -Werror
    extra: tuple[str, ...] = ()  # per-source flags (e.g. -include)


@dataclass(frozen=True)
class Firmware:
    elf: Path
    map_file: Path
    objects: dict[str, str]  # object file name -> component


def runtime_c() -> Path:
    return repo_root() / "runtime_c"


def port_dir(target: Target) -> Path:
    return runtime_c() / "platform" / target.runtime.platform


def firmware_dir(target: Target, name: str) -> Path:
    return build_root() / target.name / name


def render_linker_script(target: Target, output: Path) -> Path:
    if target.memory.flash_kib > MAX_FLASH_KIB or target.memory.ram_kib > MAX_FLASH_KIB:
        raise riscv_gcc.ToolchainError(
            f"{target.source.name}: memory budgets above {MAX_FLASH_KIB} KiB do not fit the "
            "emulated layout (QEMU virt, 8 MiB of DRAM)"
        )
    render_to(
        "qemu-rv32.ld.j2",
        target,
        output,
        flash_base=FLASH_BASE,
        ram_base=RAM_BASE,
        stack_bytes=STACK_BYTES,
    )
    return output


def _headers_digest(include_dirs: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for d in include_dirs:
        if not d.is_dir():
            continue
        for header in sorted(d.glob("**/*.h")):
            h.update(str(header).encode())
            h.update(header.read_bytes())
    return h.hexdigest()


def _object_name(src: Source) -> str:
    digest = hashlib.sha256(str(src.path).encode()).hexdigest()[:8]
    return f"{src.path.stem}-{digest}.o"


def compile_sources(
    sources: Sequence[Source],
    obj_dir: Path,
    include_dirs: Sequence[Path],
    defines: Sequence[str],
    extra: Sequence[str] = (),
) -> list[Path]:
    """Compiles what changed (in parallel); returns the object files in source order."""
    obj_dir.mkdir(parents=True, exist_ok=True)
    headers = _headers_digest(include_dirs)
    todo: list[tuple[Source, Path, Path, str]] = []  # source, object, stamp, key
    objects: list[Path] = []
    for src in sources:
        obj = obj_dir / _object_name(src)
        flags = (*extra, *src.extra) if src.path.suffix == ".c" else src.extra
        argv = riscv_gcc.compile_argv(src.path, obj, include_dirs, defines, src.strict, flags)
        key = hashlib.sha256(
            "\0".join(argv).encode() + src.path.read_bytes() + headers.encode()
        ).hexdigest()
        stamp = obj.with_suffix(".stamp")
        objects.append(obj)
        if obj.exists() and stamp.exists() and stamp.read_text() == key:
            continue
        stamp.unlink(missing_ok=True)
        todo.append((Source(src.path, src.component, src.strict, flags), obj, stamp, key))
    if todo:
        log.info("compiling %d of %d sources", len(todo), len(sources))
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            futures = [
                pool.submit(
                    riscv_gcc.compile_c, s.path, o, include_dirs, defines, s.strict, s.extra
                )
                for s, o, _, _ in todo
            ]
            for f in futures:
                f.result()
        for _, _, stamp, key in todo:
            stamp.write_text(key)
    return objects


def link_firmware(
    target: Target,
    sources: Sequence[Source],
    out_dir: Path,
    include_dirs: Sequence[Path],
    defines: Sequence[str],
    name: str = "fw",
    extra: Sequence[str] = (),
) -> Firmware:
    """Compiles and links sources into out_dir/<name>.elf with the target's rendered script."""
    script = render_linker_script(target, out_dir / f"{target.runtime.platform}.ld")
    objects = compile_sources(sources, out_dir / "obj", include_dirs, defines, extra)
    elf = out_dir / f"{name}.elf"
    map_file = out_dir / f"{name}.map"
    budgets = {"ram": target.memory.ram_kib, "flash": target.memory.flash_kib}
    riscv_gcc.link(objects, script, elf, map_file, budgets)
    return Firmware(
        elf=elf,
        map_file=map_file,
        objects={o.name: s.component for o, s in zip(objects, sources, strict=True)},
    )


def port_sources(target: Target) -> list[Source]:
    port = port_dir(target)
    return [
        Source(port / "platform.c", "platform"),
        Source(port / "trap.S", "platform"),
    ]


def proto_sources() -> list[Source]:
    proto = runtime_c() / "proto"
    names = ("proto_hash.c", "proto_frame.c", "proto_codec.c", "proto_device.c")
    return [Source(proto / n, "proto") for n in names]


def build_protocol_firmware(target: Target) -> Firmware:
    """The protocol dispatcher with the protocol's test double of the core (no engine): for
    testing the port, the QEMU adapter and link faults independently of the runtime core."""
    port = port_dir(target)
    proto = runtime_c() / "proto"
    sources = [
        *port_sources(target),
        Source(port / "protofw_main.c", "platform"),
        *proto_sources(),
        Source(proto / "test" / "fake_core.c", "proto-test"),
    ]
    includes = [port, runtime_c() / "include", proto, proto / "test"]
    return link_firmware(
        target, sources, firmware_dir(target, "protofw"), includes, [], name="protofw"
    )


# wasm2c's call-depth counter turns runaway recursion into a trap before the native stack (the
# linker script's STACK_BYTES) runs out; measured frames of translated guests stay well below
# STACK_BYTES / this depth.
W2C_MAX_CALL_DEPTH = 200


@dataclass(frozen=True)
class RuntimeFirmware:
    firmware: Firmware
    sources: GeneratedSources
    guests: BuildResult


def runtime_sources(target: Target, gen: GeneratedSources) -> list[Source]:
    """Everything the firmware compiles, each tagged with its component for footprint reports."""
    rt = runtime_c()
    core = [
        Source(rt / "core" / n, "core")
        for n in ("rt_mem.c", "rt_core.c", "rt_wasi.c", "rt_wasinn.c", "rt_device.c")
    ]
    sources = [*port_sources(target), Source(port_dir(target) / "main.c", "platform"), *core]
    sources += proto_sources()
    if target.runtime.engine != "wasm2c":
        raise BuildToolsError(
            f"target {target.name}: engine {target.runtime.engine!r} is not available on "
            f"platform {target.runtime.platform} (wasm2c only)"
        )
    w2c = rt / "engines" / "wasm2c"
    sources += [
        Source(w2c / "rt_eng_wasm2c.c", "engine"),
        Source(w2c / "rt_w2c_imports.c", "engine"),
        Source(
            wabt.wasm2c_runtime_dir() / "wasm-rt-impl.c",
            "engine",
            strict=False,
            extra=("-include", str(w2c / "rt_w2c_alloc.h")),
        ),
        Source(gen.directory / "rt_w2c_modules.c", "engine", strict=False),
    ]
    sources += [Source(m.source, f"guest:{m.guest.name}", strict=False) for m in gen.modules]
    if target.runtime.nn_backend != "builtin":
        raise BuildToolsError(
            f"target {target.name}: NN backend {target.runtime.nn_backend!r} is not available "
            f"on platform {target.runtime.platform} (builtin only)"
        )
    sources.append(Source(rt / "nn" / "builtin_glue.c", "backend"))
    sources += [Source(p, "backend") for p in sorted((rt / "nn" / "builtin").glob("*.c"))]
    sources.append(Source(gen.directory / "rt_models.c", "models", strict=False))
    return sources


def runtime_includes(target: Target, gen: GeneratedSources) -> list[Path]:
    rt = runtime_c()
    return [
        gen.config_dir,
        port_dir(target),  # first among the rest: its sys/mman.h stub for wasm-rt-impl.c
        rt / "include",
        rt / "core",
        rt / "engines",
        rt / "engines" / "wasm2c",
        rt / "nn",
        rt / "nn" / "builtin",
        rt / "proto",
        gen.directory,
        wabt.wasm2c_runtime_dir(),
    ]


def runtime_defines() -> list[str]:
    return [
        "WASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
        f"WASM_RT_MAX_CALL_STACK_DEPTH={W2C_MAX_CALL_DEPTH}",
    ]


def build_runtime_firmware(target: Target, guests: BuildResult | None = None) -> RuntimeFirmware:
    """Guests -> wasm2c -> firmware ELF with the core, engine, backend, guests and models."""
    from . import runtime_c as rtc  # the shared generator of module and model tables

    guests = guests or build_guests(target)
    out = firmware_dir(target, "firmware")
    gen = rtc.generate_sources(target, guests, out / "gen")
    for name, reason in gen.skipped_models.items():
        log.warning("%s: model %s not built in: %s", target.name, name, reason)
    fw = link_firmware(
        target,
        runtime_sources(target, gen),
        out,
        runtime_includes(target, gen),
        runtime_defines(),
        name="fw",
        extra=("-include", str(port_dir(target) / "qrv_config.h")),
    )
    return RuntimeFirmware(fw, gen, guests)


def firmware_path(target: Target) -> Path:
    return firmware_dir(target, "firmware") / "fw.elf"


# Platforms with a bare-metal port built by this module (runtime_c/platform/<name>/).
BARE_METAL_PLATFORMS = ("qemu-rv32",)


def builds_firmware(target: Target) -> bool:
    return target.runtime.kind == "c" and target.runtime.platform in BARE_METAL_PLATFORMS


def describe(target: Target, fw: RuntimeFirmware) -> str:
    """A short summary for `build`: image, models built in, memory use against the budgets."""
    from .footprint import image_usage

    use = image_usage(fw.firmware.elf)
    lines = [
        f"{target.name}: firmware {fw.firmware.elf}",
        f"  models built in (flash): {', '.join(fw.sources.models) or 'none'}",
        f"  flash {use.flash / 1024:.1f} KiB of {target.memory.flash_kib} KiB; "
        f"static RAM {use.static_ram / 1024:.1f} KiB + stack {use.stack / 1024:.0f} KiB, "
        f"heap {use.heap / 1024:.1f} KiB of {target.memory.ram_kib} KiB RAM",
    ]
    lines += [f"  model {n} skipped: {r}" for n, r in fw.sources.skipped_models.items()]
    return "\n".join(lines)
