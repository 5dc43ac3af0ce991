"""The C micro-runtime's generated sources: rt_config.h, the wasm2c module table, the model
table, and `rt_gen.cmake` listing them for the component description (runtime_c/cmake/).

Shared by every C target and build system (build_tools/firmware/). Nothing third-party is
copied: wabt's runtime sources are compiled in place from `wabt.wasm2c_runtime_dir()`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge_runtime.abi import load_table

from . import tflm_ops
from .abi import c_glue
from .errors import BuildToolsError, ToolchainError
from .guests import BuildResult, GuestEntry
from .paths import find_model, repo_root, shared_root
from .render import render_to
from .targets import Target
from .toolchains import wabt

log = logging.getLogger(__name__)

# wasm2c import struct type -> the rt_w2c_env_t member passed for it (from the ABI table).
IMPORT_STRUCTS = c_glue.import_structs(load_table())
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
    has_table: bool = False  # a function table (w2c_T0): EVP callbacks are called through it


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
    has_table = re.search(r"^\s*wasm_rt_funcref_table_t w2c_T0;$", header.read_text(), re.M)
    return TranslatedModule(
        guest, c_name, source, header, args, has_memory, tuple(exports), has_table is not None
    )


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
        if m.has_table:
            out.append(
                f"static wasm_rt_funcref_table_t *{n}_table(void *i) "
                f"{{ return &((Z_{n}_instance_t *)i)->w2c_T0; }}"
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
            f"    {n + '_mem' if m.has_memory else '0'}, {n}_exports, {len(m.exports)}u,\n"
            f"    {n + '_table' if m.has_table else '0'}}};"
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
        # 16-byte aligned: the tflm backend reads the flatbuffer in place.
        out.append(
            f"static const uint8_t model_{i}[{max(len(data), 1)}] __attribute__((aligned(16))) = {{"
        )
        out.append(_c_bytes(data) if data else "    0,")
        out.append("};")
        sha = hashlib.sha256(data).hexdigest()
        rows.append(f"    {{{_c_string(name)}, model_{i}, {len(data)}u, {_c_sha(sha)}}},")
    out.append("const rt_builtin_model_t rt_builtin_models[] = {")
    out += rows or ['    {"", 0, 0u, {0}},']
    out.append("};")
    out.append(f"const uint32_t rt_builtin_model_count = {len(models)}u;")
    return "\n".join(out) + "\n"


def _cmake_list(paths: list[Path]) -> str:
    return "".join(f'\n  "{p.as_posix()}"' for p in paths)


def gen_cmake_source(
    out: Path, modules: list[TranslatedModule], glue: list[Path] | None = None
) -> str:
    """rt_gen.cmake: the generated sources of this configuration, listed explicitly (a guest
    added to or removed from the target changes this file, so CMake reconfigures).
    RT_GEN_ENGINE_GLUE_SOURCES is the engine's import glue from the ABI table (project code,
    compiled strict by the engine's component.cmake)."""
    engine = [out / "rt_w2c_modules.c"] if modules else []
    return (
        "# Generated by build_tools/runtime_c.py for runtime_c/cmake/rt_components.cmake.\n"
        f"set(RT_GEN_ENGINE_SOURCES{_cmake_list(engine)})\n"
        f"set(RT_GEN_ENGINE_GLUE_SOURCES{_cmake_list(glue or [])})\n"
        f"set(RT_GEN_GUEST_SOURCES{_cmake_list([m.source for m in modules])})\n"
        f"set(RT_GEN_MODEL_SOURCES{_cmake_list([out / 'rt_models.c'])})\n"
        f'set(RT_GEN_INCLUDES "{out.as_posix()}")\n'
    )


def resolve_models(target: Target) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    """The target's models found (the project's own, then the shared data directory), and the
    reasons for the rest."""
    found: list[tuple[str, Path]] = []
    skipped: dict[str, str] = {}
    for name in target.guests.models:
        path = find_model(name)
        if path is not None:
            found.append((name, path))
        else:
            skipped[name] = f"{shared_root() / 'models' / f'{name}.tflite'} not found"
    return found, skipped


def generate_sources(target: Target, guests: BuildResult, out: Path) -> GeneratedSources:
    """wasm2c output, module table, model table, rt_config.h and the engine's import glue
    (`abi.c_glue`: wasm2c rt_w2c_env.h + rt_w2c_imports.c, WAMR rt_wamr_natives.c) for one C
    target."""
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
        for guest in [*guests.guests, *guests.evp_guests]:
            modules.append(translate_guest(guest, guests.directory, out))
        _write_if_changed(out / "rt_w2c_modules.c", module_table_source(modules))
        generated += [m.source for m in modules] + [out / "rt_w2c_modules.c"]
    found, skipped = resolve_models(target)
    for name, reason in skipped.items():
        log.warning("model %s not embedded: %s", name, reason)
    models = [(n, p.read_bytes()) for n, p in found]
    _write_if_changed(out / "rt_models.c", model_table_source(models))
    generated.append(out / "rt_models.c")
    if target.runtime.nn_backend == "tflm":
        tflm_ops.generate(models, out)  # the resolver's op list, for nn/tflm/component.cmake
    glue = c_glue.write_engine_glue(target.runtime.engine, load_table(), out, _write_if_changed)
    _write_if_changed(out / "rt_gen.cmake", gen_cmake_source(out, modules, glue))
    return GeneratedSources(out, config_dir, modules, generated, [n for n, _ in found], skipped)
