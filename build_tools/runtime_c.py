"""The C micro-runtime: generated sources (wasm2c module table, model table, rt_config.h) and
the CMake build of a native (POSIX) runtime.

Generation is shared by every C target (`generate_sources`); `build_runtime` drives CMake for
targets whose build system is "cmake" and platform is a native process. Everything lands under
`build/<target>/runtime[-asan]/`; nothing third-party is copied: wabt's runtime sources are
compiled in place from `wabt.wasm2c_runtime_dir()`.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from .errors import BuildToolsError, ToolchainError
from .guests import BuildResult, GuestEntry, build_guests
from .paths import build_root, repo_root, shared_root
from .render import render_to
from .targets import Target
from .toolchains import runner, wabt

log = logging.getLogger(__name__)

IMPORT_STRUCTS = {
    "Z_wasi_snapshot_preview1_instance_t": "&env->wasi",
    "Z_wasi_ephemeral_nn_instance_t": "&env->nn",
}
_DECL = re.compile(r"^(?P<ret>[\w]+\*?) (?P<sym>Z_\w+)\((?P<params>[^)]*)\);$")
_EXPORT = re.compile(r"^/\* export: '(?P<name>.*)' \*/$")


@dataclass(frozen=True)
class Export:
    name: str
    symbol: str
    argc: int
    has_result: bool


@dataclass(frozen=True)
class TranslatedModule:
    guest: GuestEntry
    c_name: str  # wasm2c module name (-n)
    source: Path
    header: Path
    instantiate_args: tuple[str, ...]  # import struct names, in wasm2c's parameter order
    has_memory: bool
    exports: tuple[Export, ...]


@dataclass
class GeneratedSources:
    directory: Path
    config_dir: Path  # holds rt_config.h
    modules: list[TranslatedModule]
    generated_c: list[Path]  # wasm2c output + tables: compile with relaxed warnings
    models: list[str]  # embedded model names
    skipped_models: dict[str, str] = field(default_factory=dict)  # name -> reason


def runtime_dir() -> Path:
    return repo_root() / "runtime_c"


def c_module_name(guest: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", guest)
    return name if not name[0].isdigit() else f"m_{name}"


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def _c_bytes(data: bytes, per_line: int = 24) -> str:
    lines = []
    for i in range(0, len(data), per_line):
        lines.append("    " + ",".join(str(b) for b in data[i : i + per_line]) + ",")
    return "\n".join(lines)


def _c_sha(hexdigest: str) -> str:
    return "{" + ",".join(f"0x{hexdigest[i : i + 2]}" for i in range(0, 64, 2)) + "}"


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_wasm2c_header(header: Path, c_name: str) -> tuple[tuple[str, ...], bool, list[Export]]:
    """Reads what the module table needs from a wasm2c-generated header."""
    lines = header.read_text().splitlines()
    instantiate: tuple[str, ...] | None = None
    has_memory = False
    exports: list[Export] = []
    pending: str | None = None
    for line in lines:
        m = _EXPORT.match(line)
        if m:
            pending = m.group("name")
            continue
        d = _DECL.match(line)
        if d is None:
            continue
        params = [p.strip() for p in d.group("params").split(",") if p.strip()]
        if d.group("sym") == f"Z_{c_name}_instantiate":
            instantiate = tuple(p.removeprefix("struct ").rstrip("*").strip() for p in params[1:])
        elif pending is not None:
            if d.group("ret") == "wasm_rt_memory_t*":
                has_memory = has_memory or pending == "memory"
            elif d.group("ret") in ("u32", "void") and all(p == "u32" for p in params[1:]):
                exports.append(
                    Export(pending, d.group("sym"), len(params) - 1, d.group("ret") == "u32")
                )
            else:
                log.debug("export %s of %s is not i32-only: not callable", pending, c_name)
        pending = None
    if instantiate is None:
        raise ToolchainError(
            f"{header.name}: no Z_{c_name}_instantiate declaration (wasm2c output changed?)"
        )
    for struct in instantiate:
        if struct not in IMPORT_STRUCTS:
            raise BuildToolsError(
                f"{header.name}: import module {struct} has no implementation in the C runtime"
            )
    return instantiate, has_memory, exports


def translate_guest(guest: GuestEntry, guests_dir: Path, out: Path) -> TranslatedModule:
    c_name = c_module_name(guest.name)
    source = out / f"w2c_{guest.name}.c"
    header = out / f"w2c_{guest.name}.h"
    stamp = out / f".w2c_{guest.name}.stamp"
    key = f"{guest.sha256}:{c_name}:{' '.join(wabt.wasm2c_argv(Path('x'), Path('y'), c_name))}"
    if not (source.exists() and header.exists() and stamp.exists() and stamp.read_text() == key):
        wabt.wasm2c(guests_dir / guest.path, source, c_name)
        stamp.write_text(key)
        log.info("translated %s with wasm2c", guest.name)
    args, has_memory, exports = parse_wasm2c_header(header, c_name)
    return TranslatedModule(guest, c_name, source, header, args, has_memory, tuple(exports))


def module_table_source(modules: list[TranslatedModule]) -> str:
    out = [
        "/* Generated by build_tools/runtime_c.py: the wasm2c module table. Do not edit. */",
        "#include <stdint.h>",
        '#include "rt_w2c.h"',
    ]
    out += [f'#include "{m.header.name}"' for m in modules]
    entries = []
    for m in modules:
        n = m.c_name
        args = ", ".join(IMPORT_STRUCTS[s] for s in m.instantiate_args)
        out.append("")
        out.append(f"/* ---- {m.guest.name} (sha256 {m.guest.sha256}) ---- */")
        out.append(
            f"static void {n}_inst(void *i, rt_w2c_env_t *env) {{\n"
            f"    (void)env;\n"
            f"    Z_{n}_instantiate((Z_{n}_instance_t *)i{', ' + args if args else ''});\n}}"
        )
        out.append(f"static void {n}_free(void *i) {{ Z_{n}_free((Z_{n}_instance_t *)i); }}")
        if m.has_memory:
            out.append(
                f"static wasm_rt_memory_t *{n}_mem(void *i) "
                f"{{ return Z_{n}Z_memory((Z_{n}_instance_t *)i); }}"
            )
        rows = []
        for k, e in enumerate(m.exports):
            call_args = ", ".join(
                [f"(Z_{n}_instance_t *)i"] + [f"(u32)a[{j}]" for j in range(e.argc)]
            )
            body = (
                f"return (int32_t){e.symbol}({call_args});"
                if e.has_result
                else f"{e.symbol}({call_args});\n    return 0;"
            )
            out.append(
                f"static int32_t {n}_x{k}(void *i, const int32_t *a) {{\n"
                f"    (void)a;\n    {body}\n}}"
            )
            rows.append(f"    {{{_c_string(e.name)}, {e.argc}, {int(e.has_result)}, {n}_x{k}}},")
        out.append(f"static const rt_w2c_export_t {n}_exports[] = {{")
        out += rows or ["    {0, 0, 0, 0},"]
        out.append("};")
        out.append(
            f"static const struct rt_eng_module {n}_module = {{\n"
            f"    {_c_string(m.guest.name)}, {_c_sha(m.guest.sha256)}, {m.guest.size}u,\n"
            f"    sizeof(Z_{n}_instance_t), Z_{n}_init_module, {n}_inst, {n}_free,\n"
            f"    {n + '_mem' if m.has_memory else '0'}, {n}_exports, {len(m.exports)}u}};"
        )
        entries.append(f"&{n}_module")
    out.append("")
    table = ", ".join(entries) if entries else "0"
    out.append(f"const struct rt_eng_module *const rt_w2c_modules[] = {{{table}}};")
    out.append(f"const uint32_t rt_w2c_module_count = {len(entries)}u;")
    return "\n".join(out) + "\n"


def model_table_source(models: list[tuple[str, bytes]]) -> str:
    out = [
        "/* Generated by build_tools/runtime_c.py: models built into the firmware (read-only). */",
        '#include "rt.h"',
    ]
    rows = []
    for i, (name, data) in enumerate(models):
        out.append(f"/* {name}: {len(data)} bytes */")
        out.append(f"static const uint8_t model_{i}[{max(len(data), 1)}] = {{")
        out.append(_c_bytes(data) if data else "    0,")
        out.append("};")
        sha = hashlib.sha256(data).hexdigest()
        rows.append(f"    {{{_c_string(name)}, model_{i}, {len(data)}u, {_c_sha(sha)}}},")
    out.append("const rt_builtin_model_t rt_builtin_models[] = {")
    out += rows or ['    {"", 0, 0u, {0}},']
    out.append("};")
    out.append(f"const uint32_t rt_builtin_model_count = {len(models)}u;")
    return "\n".join(out) + "\n"


def resolve_models(target: Target) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    """The target's models found in the shared data directory, and the reasons for the rest."""
    found: list[tuple[str, Path]] = []
    skipped: dict[str, str] = {}
    models_dir = shared_root() / "models"
    for name in target.guests.models:
        path = models_dir / f"{name}.tflite"
        if path.is_file():
            found.append((name, path))
        else:
            skipped[name] = f"{path} not found"
    return found, skipped


def generate_sources(target: Target, guests: BuildResult, out: Path) -> GeneratedSources:
    """wasm2c output, module table, model table and rt_config.h for one C target."""
    if target.runtime.kind != "c":
        raise BuildToolsError(
            f"target {target.name}: runtime.kind is {target.runtime.kind!r}, not 'c'"
        )
    out.mkdir(parents=True, exist_ok=True)
    config_dir = out / "config"
    render_to("rt_config.h.j2", target, config_dir / "rt_config.h")
    modules: list[TranslatedModule] = []
    generated: list[Path] = []
    if target.runtime.engine == "wasm2c":
        for guest in guests.guests:
            modules.append(translate_guest(guest, guests.directory, out))
        _write_if_changed(out / "rt_w2c_modules.c", module_table_source(modules))
        generated += [m.source for m in modules] + [out / "rt_w2c_modules.c"]
    found, skipped = resolve_models(target)
    for name, reason in skipped.items():
        log.warning("model %s not embedded: %s", name, reason)
    _write_if_changed(
        out / "rt_models.c", model_table_source([(n, p.read_bytes()) for n, p in found])
    )
    generated.append(out / "rt_models.c")
    return GeneratedSources(out, config_dir, modules, generated, [n for n, _ in found], skipped)


@dataclass(frozen=True)
class RuntimeBuild:
    binary: Path
    build_dir: Path
    sources: GeneratedSources
    sanitize: bool


# Platforms runtime_c/CMakeLists.txt builds as a native executable.
CMAKE_PLATFORMS = ("posix",)


def builds_with_cmake(target: Target) -> bool:
    """True for C runtimes that this module builds with CMake (a native process)."""
    return (
        target.runtime.kind == "c"
        and target.build.system == "cmake"
        and target.runtime.platform in CMAKE_PLATFORMS
    )


def variant_dir(target: Target, sanitize: bool) -> Path:
    return build_root() / target.name / ("runtime-asan" if sanitize else "runtime")


def binary_path(target: Target, sanitize: bool = False) -> Path:
    return variant_dir(target, sanitize) / "cmake" / f"rt_{target.runtime.platform}"


def cmake_defines(target: Target, gen: GeneratedSources, sanitize: bool) -> dict[str, str]:
    return {
        "RT_ENGINE": target.runtime.engine,
        "RT_NN": target.runtime.nn_backend,
        "RT_PLATFORM": target.runtime.platform,
        "RT_CONFIG_DIR": str(gen.config_dir),
        "RT_GEN_DIR": str(gen.directory),
        "WASM2C_RUNTIME_DIR": str(wabt.wasm2c_runtime_dir()),
        "RT_SANITIZE": "ON" if sanitize else "OFF",
        "CMAKE_BUILD_TYPE": "Release",
    }


def _cmake_build(source: Path, build_dir: Path, defines: dict[str, str]) -> None:
    """Through the project's cmake adapter when present, else the same two steps directly."""
    try:
        cmake: ModuleType | None = importlib.import_module(f"{__package__}.toolchains.cmake")
    except ModuleNotFoundError:
        cmake = None
    if cmake is not None and hasattr(cmake, "build"):
        cmake.build(source, build_dir, defines)
        return
    runner.require("cmake", "apt-get install -y cmake")
    configure = ["cmake", "-S", str(source), "-B", str(build_dir)]
    configure += [f"-D{k}={v}" for k, v in sorted(defines.items())]
    runner.run(configure, f"configuring {source.name}")
    runner.run(["cmake", "--build", str(build_dir), "--parallel"], f"building {source.name}")


def build_runtime(
    target: Target, guests: BuildResult | None = None, sanitize: bool = False
) -> RuntimeBuild:
    """Guests (if not given), generated sources and the native runtime binary."""
    if target.build.system != "cmake":
        raise BuildToolsError(
            f"target {target.name}: build.system is {target.build.system!r}, not 'cmake'"
        )
    guests = guests or build_guests(target)
    root = variant_dir(target, sanitize)
    gen = generate_sources(target, guests, root / "gen")
    build_dir = root / "cmake"
    _cmake_build(runtime_dir(), build_dir, cmake_defines(target, gen, sanitize))
    binary = binary_path(target, sanitize)
    if not binary.exists():
        raise ToolchainError(f"the runtime build finished but {binary} is missing")
    return RuntimeBuild(binary, build_dir, gen, sanitize)
