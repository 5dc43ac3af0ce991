"""The C sources generated from the ABI table, checked by a C compiler against the headers they
must agree with: wasm2c's own prototypes of the imports (from a module importing every table
function, translated by the real wasm2c), the core's declarations (runtime_c/core), and WAMR
2.4.5's real wasm_export.h. A type or name mismatch is a compile error ("conflicting types")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from build_tools import third_party
from build_tools.abi import c_glue
from build_tools.render import render_to
from build_tools.runtime_c import runtime_dir
from build_tools.targets import load_target
from build_tools.toolchains import wabt
from edge_runtime.abi import AbiTable, load_table, parse_table

STRICT = ["-Wall", "-Wextra", "-Werror", "-fsyntax-only"]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH (bash ci/setup.sh)")


def cc(source: Path, includes: list[Path], std: str = "-std=c99") -> None:
    argv = ["cc", *STRICT, std, *(f"-I{d}" for d in includes), str(source)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stderr}"


def wat_importing(table: AbiTable) -> str:
    """A module importing every function of the table, with the table's types."""
    lines = ["(module"]
    for m in table.c_modules:
        for f in m.c_functions:
            params = " ".join(p.type for p in f.params)
            result = f" (result {f.result})" if f.result else ""
            lines.append(f'  (import "{m.name}" "{f.name}" (func (param {params}){result}))')
    lines += ['  (memory (export "memory") 1))']
    return "\n".join(lines)


def wasm2c_header(table: AbiTable, tmp: Path) -> Path:
    (tmp / "imports.wat").write_text(wat_importing(table))
    wabt.wat2wasm(tmp / "imports.wat", tmp / "imports.wasm")
    wabt.wasm2c(tmp / "imports.wasm", tmp / "guest.c", "guest")
    return tmp / "guest.h"


def core_includes(tmp: Path) -> list[Path]:
    """The core's include path, with rt_config.h rendered for the posix target."""
    render_to("rt_config.h.j2", load_target("posix"), tmp / "config" / "rt_config.h")
    rt = runtime_dir()
    return [tmp / "config", rt / "include", rt / "core", rt / "engines", rt / "nn"]


def write_wasm2c_glue(table: AbiTable, out: Path) -> None:
    written = c_glue.write_engine_glue("wasm2c", table, out, lambda p, t: p.write_text(t))
    assert written == [out / "rt_w2c_imports.c"]
    assert (out / "rt_w2c_env.h").is_file()


def test_wasm2c_glue_agrees_with_wasm2c_and_the_core(tmp_path: Path) -> None:
    need("cc", "wasm2c", "wat2wasm")
    table = load_table()
    header = wasm2c_header(table, tmp_path)
    write_wasm2c_glue(table, tmp_path)
    # wasm2c's prototypes first, then our definitions: C requires them to be compatible.
    tu = tmp_path / "check.c"
    tu.write_text(f'#include "{header.name}"\n#include "rt_w2c_imports.c"\n')
    includes = [tmp_path, *core_includes(tmp_path), runtime_dir() / "engines" / "wasm2c"]
    cc(tu, [*includes, wabt.wasm2c_runtime_dir()], std="-std=gnu99")
    # Every table import is defined, under wasm2c's name for it.
    glue = (tmp_path / "rt_w2c_imports.c").read_text()
    declared = set(re.findall(r"\b(Z_(?!guestZ_)\w+Z_\w+)\(", header.read_text()))
    defined = set(re.findall(r"^\w+ (Z_\w+Z_\w+)\(.*\) \{$", glue, re.M))
    assert declared == defined and len(defined) == 46  # 29 + 11 EVP SDK + 6 legacy wasi_nn


def test_wasm2c_glue_brackets_core_calls_except_proc_exit() -> None:
    glue = c_glue.wasm2c_imports_source(load_table())
    bodies = dict(re.findall(r"^\w+ (Z_\w+)\([^\n]*\) \{\n(.*?)^\}", glue, re.M | re.S))
    assert (
        bodies["Z_wasi_snapshot_preview1Z_proc_exit"] == "    rt_wasi_proc_exit(env->rt, code);\n"
    )
    assert bodies["Z_wasi_snapshot_preview1Z_fd_seek"] == (
        "    rt_w2c_host_enter();\n"
        "    uint32_t res = rt_wasi_fd_seek(env->rt, fd, offset, whence, newoffset_ptr);\n"
        "    rt_w2c_host_leave();\n"
        "    return res;\n"
    )
    bracketed = [b for b in bodies.values() if "rt_w2c_host_enter();" in b]
    assert len(bracketed) == 45


# Names wasm2c must mangle ('Z' and bytes outside [A-Za-z0-9_]), a void import that returns and
# an import whose core gets a subset of the parameters: the generator's general cases.
ODD = """
[[module]]
name = "my-modZ"
doc = "9"

[[function]]
module = "my-modZ"
name = "fnZ.x-y"
params = ["a: i32", "b: i64"]
result = "i64"
core = "core_fn"
core_args = ["b"]

[[function]]
module = "my-modZ"
name = "notify"
params = ["code: i32"]
core = "core_notify"
"""

ODD_CORE = """#include <stdint.h>
typedef struct rt_instance rt_instance_t;
uint64_t core_fn(rt_instance_t *inst, uint64_t b);
void core_notify(rt_instance_t *inst, uint32_t code);
"""


def test_mangled_names_and_general_signatures_compile(tmp_path: Path) -> None:
    need("cc", "wasm2c", "wat2wasm")
    table = parse_table(ODD)
    header = wasm2c_header(table, tmp_path)
    assert c_glue.mangle("my-modZ") == "myZ2DmodZ5A"
    assert "struct Z_myZ2DmodZ5A_instance_t" in header.read_text()
    assert c_glue.w2c_symbol("my-modZ", "fnZ.x-y") in header.read_text()
    write_wasm2c_glue(table, tmp_path)
    (tmp_path / "rt_internal.h").write_text(ODD_CORE)  # stand-in for the core of this table
    tu = tmp_path / "check.c"
    tu.write_text(f'#include "{header.name}"\n#include "rt_w2c_imports.c"\n')
    includes = [tmp_path, runtime_dir() / "engines" / "wasm2c", wabt.wasm2c_runtime_dir()]
    cc(tu, includes, std="-std=gnu99")
    glue = (tmp_path / "rt_w2c_imports.c").read_text()
    assert "    (void)a;\n    rt_w2c_host_enter();\n    uint64_t res = core_fn(env->rt, b);" in glue
    assert "    rt_w2c_host_enter();\n    core_notify(env->rt, code);\n" in glue
    natives = c_glue.wamr_natives_source(table)
    assert '{"fnZ.x-y", (void *)rt_wamr_myZ2DmodZ5A_fnZ5AZ2ExZ2Dy, "(iI)I", NULL},' in natives
    assert '{"notify", (void *)rt_wamr_myZ2DmodZ5A_notify, "(i)", NULL},' in natives


# Test-only stand-in for engines/wamr/rt_eng_wamr.h (written with the WAMR engine): the macro
# the generated natives use and the registration function they define.
RT_ENG_WAMR_STANDIN = """#ifndef RT_ENG_WAMR_H
#define RT_ENG_WAMR_H
#include <stdbool.h>
#include "rt_internal.h"
#include "wasm_export.h"
#define RT_WAMR_INST(exec_env) ((rt_instance_t *)wasm_runtime_get_user_data(exec_env))
bool rt_wamr_register_natives(void);
#endif
"""


def wamr_include_dir() -> Path:
    """WAMR's public headers, from the pinned, verified tree (build/third_party/wamr)."""
    return third_party.resolve("wamr", allow_download=False) / "core" / "iwasm" / "include"


@pytest.mark.parametrize("which", ["project", "odd"])
def test_wamr_natives_compile_against_wamr_headers(tmp_path: Path, which: str) -> None:
    need("cc")
    table = load_table() if which == "project" else parse_table(ODD)
    written = c_glue.write_engine_glue("wamr", table, tmp_path, lambda p, t: p.write_text(t))
    assert written == [tmp_path / "rt_wamr_natives.c"]
    standin = tmp_path / "standin"
    standin.mkdir()
    (standin / "rt_eng_wamr.h").write_text(RT_ENG_WAMR_STANDIN)
    if which == "project":
        core = core_includes(tmp_path)
    else:
        (standin / "rt_internal.h").write_text(ODD_CORE)
        core = []
    cc(written[0], [standin, wamr_include_dir(), *core])


def test_wamr_natives_rows_match_wrappers_and_table() -> None:
    table = load_table()
    source = c_glue.wamr_natives_source(table)
    wrappers = {
        name: params
        for name, params in re.findall(r"^static \w+ (rt_wamr_\w+)\((.*)\) \{$", source, re.M)
    }
    rows = re.findall(r'^    \{"(\w+)", \(void \*\)(\w+), "([^"]*)", NULL\},$', source, re.M)
    assert len(rows) == 46 == len(wrappers)
    for name, wrapper, signature in rows:
        assert re.fullmatch(r"\([iI]*\)[iI]?", signature), signature  # never * ~ $
        params = wrappers[wrapper].split(", ")[1:]
        letters = "".join("I" if p.startswith("uint64_t") else "i" for p in params)
        assert signature.startswith(f"({letters})"), name
    for m in table.c_modules:
        assert f'wasm_runtime_register_natives("{m.name}", rt_wamr_natives_{m.name},' in source
    assert ("proc_exit", "rt_wamr_wasi_snapshot_preview1_proc_exit", "(i)") in rows
    assert "rt_wasi_proc_exit(RT_WAMR_INST(exec_env), code);" in source
    assert ("fd_seek", "rt_wamr_wasi_snapshot_preview1_fd_seek", "(iIii)i") in rows


def test_engines_without_generated_glue_get_none(tmp_path: Path) -> None:
    assert c_glue.write_engine_glue("wasmtime", load_table(), tmp_path, print) == []
