"""The ABI table (runtime_py/edge_runtime/abi/imports.toml): it agrees with docs/abi.md, its loader refuses
malformed entries naming them, and everything derived from it covers exactly its imports."""

from __future__ import annotations

import inspect
import re

import pytest

from build_tools.paths import repo_root
from build_tools.runtime_c import IMPORT_STRUCTS
from edge_runtime.abi import TABLE, AbiTable, Function, load_table, parse_table
from edge_runtime.errors import AbiTableError
from edge_runtime.guest_abi import ALLOWED_IMPORTS
from edge_runtime.host import evp, image, wasi, wasi_nn, wasi_nn_legacy

_SECTION = re.compile(r"^## (?P<num>\d+)\. `(?P<module>[^`]+)`", re.M)
_PARAM = re.compile(r"^(?P<name>\w+)(?: \((?P<type>i32|i64)\))?$")


def doc_tables() -> dict[str, tuple[str, list[tuple[str, list[tuple[str, str]], str | None]]]]:
    """docs/abi.md: module -> (section number, [(function, [(param, type)], result)]), read
    from the first table with a `function` column of each `## N. \\`module\\`` section."""
    text = (repo_root() / "docs" / "abi.md").read_text()
    heads = list(_SECTION.finditer(text))
    found = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else text.find("\n## ", head.end())
        lines = text[head.end() : end if end > 0 else len(text)].splitlines()
        start = next(k for k, line in enumerate(lines) if line.startswith("| function |"))
        columns = [c.strip() for c in lines[start].strip("|").split("|")]
        rows = []
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|")), strict=True))
            name = re.fullmatch(r"`(\w+)`", cells["function"])
            assert name, f"docs/abi.md: one function per row expected, got {cells['function']!r}"
            params = []
            if cells["parameters"] != "none":
                for p in cells["parameters"].split(", "):
                    m = _PARAM.match(p)
                    assert m, f"docs/abi.md: {name.group(1)}: parameter {p!r} not understood"
                    params.append((m.group("name"), m.group("type") or "i32"))
            result = cells["result"]
            assert result == "none" or result.startswith("`i32`"), result
            rows.append((name.group(1), params, None if result == "none" else "i32"))
        found[head.group("module")] = (head.group("num"), rows)
    return found


def table_rows(fns: tuple[Function, ...]) -> list[tuple[str, list[tuple[str, str]], str | None]]:
    return [(f.name, [(p.name, p.type) for p in f.params], f.result) for f in fns]


def test_doc_lists_exactly_the_table() -> None:
    doc = doc_tables()
    table = load_table()
    assert list(doc) == [m.name for m in table.modules]
    for m in table.modules:
        section, rows = doc[m.name]
        assert section == m.doc, f"{m.name}: table says section {m.doc}, doc has it in {section}"
        assert rows == table_rows(m.functions), f"docs/abi.md section {section} ({m.name})"


def test_doc_parser_sees_a_disagreement() -> None:
    """The comparison above can fail: a table with one parameter renamed differs from the doc."""
    table = load_table()
    text = TABLE.read_text()
    changed = parse_table(text.replace('"bytes_written_out_ptr: i32"', '"written: i32"'))
    nn = changed.module("wasi_ephemeral_nn")
    assert nn is not None
    assert doc_tables()["wasi_ephemeral_nn"][1] != table_rows(nn.functions)
    assert table != changed


def test_allow_list_and_import_structs_are_the_table() -> None:
    table = load_table()
    assert {m.name: {f.name for f in m.functions} for m in table.modules} == ALLOWED_IMPORTS
    assert len(ALLOWED_IMPORTS["wasi_snapshot_preview1"]) == 17
    wasi_c = {f.name for f in table.c_modules[1].c_functions}  # the pre-opens are host only
    assert ALLOWED_IMPORTS["wasi_snapshot_preview1"] - wasi_c == {
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_fdstat_set_flags",
        "path_open",
    }
    assert len(ALLOWED_IMPORTS["wasi_ephemeral_nn"]) == 7
    assert len(ALLOWED_IMPORTS["edge_image"]) == 9
    assert len(ALLOWED_IMPORTS["wasi_nn"]) == 6
    assert IMPORT_STRUCTS == {
        "Z_edge_image_instance_t": "&env->edge_image",
        "Z_wasi_ephemeral_nn_instance_t": "&env->wasi_ephemeral_nn",
        "Z_wasi_snapshot_preview1_instance_t": "&env->wasi_snapshot_preview1",
        "Z_wasi_nn_instance_t": "&env->wasi_nn",
        "Z_env_instance_t": "&env->env",
    }
    evp_sdk = table.module("env")
    assert evp_sdk is not None and (evp_sdk.scope, evp_sdk.c_runtime) == ("deployment", True)
    assert [m.name for m in table.c_modules] == [
        "wasi_ephemeral_nn",
        "wasi_snapshot_preview1",
        "env",
        "edge_image",
        "wasi_nn",
    ]


# The Python host's implementation object per module (runtime_py/edge_runtime/host/runtime.py).
HOST_CLASSES = {
    "wasi_ephemeral_nn": wasi_nn.WasiNn,
    "wasi_nn": wasi_nn_legacy.WasiNnLegacy,
    "wasi_snapshot_preview1": wasi.Wasi,
    "env": evp.EvpClient,  # given to the instances of a deployment (scope "deployment")
    "edge_image": image.EdgeImage,
}


@pytest.mark.parametrize(
    "fn",
    [f for m in load_table().modules for f in m.functions],
    ids=lambda f: f"{f.module}.{f.name}",
)
def test_python_host_implements_every_import(fn: Function) -> None:
    method = getattr(HOST_CLASSES[fn.module], fn.name)
    params = list(inspect.signature(method).parameters)
    assert len(params) == 2 + len(fn.params), f"{fn.module}.{fn.name}: (self, mem, *params)"


def test_signatures() -> None:
    table = load_table()
    seek = table.function("wasi_snapshot_preview1", "fd_seek")
    exit_ = table.function("wasi_snapshot_preview1", "proc_exit")
    assert seek is not None and exit_ is not None
    assert (seek.param_letters, seek.wamr_signature) == ("iIii", "(iIii)i")
    assert (exit_.wamr_signature, exit_.ends_call, exit_.has_result) == ("(i)", True, False)
    prestat = table.function("wasi_snapshot_preview1", "fd_prestat_get")
    assert prestat is not None and prestat.core is None  # host only
    assert table.function("wasi_snapshot_preview1", "path_unlink_file") is None


GOOD = """
[[module]]
name = "m"
doc = "9"

[[function]]
module = "m"
name = "f"
params = ["a: i32", "b: i64"]
result = "i32"
core = "rt_f"
"""


def test_module_without_c_runtime_needs_no_core() -> None:
    text = GOOD.replace('doc = "9"', 'doc = "9"\nscope = "deployment"\nc_runtime = false')
    table = parse_table(text.replace('core = "rt_f"\n', ""))
    module = table.module("m")
    assert module is not None and (module.scope, module.c_runtime) == ("deployment", False)
    assert table.c_modules == () and module.functions[0].core is None


def test_host_only_function_of_a_c_module() -> None:
    host_only = '[[function]]\nmodule = "m"\nname = "g"\nparams = []\nc_runtime = false\n'
    module = parse_table(GOOD + host_only).module("m")
    assert module is not None and [f.name for f in module.functions] == ["f", "g"]
    assert [f.name for f in module.c_functions] == ["f"]
    with pytest.raises(AbiTableError, match=r"m\.g has c_runtime = false: no core"):
        parse_table(GOOD + host_only + 'core = "rt_g"\n')
    no_c = GOOD.replace('doc = "9"', 'doc = "9"\nc_runtime = false').replace('core = "rt_f"\n', "")
    with pytest.raises(AbiTableError, match=r"'c_runtime' must be false .* without the C runtime"):
        parse_table(no_c.replace('result = "i32"', 'result = "i32"\nc_runtime = true'))


def test_parse_minimal_table_and_core_args() -> None:
    table = parse_table(GOOD)
    fn = table.function("m", "f")
    assert fn is not None and fn.core_args == ("a", "b")
    mapped = parse_table(GOOD + 'core_args = ["b"]\n').function("m", "f")
    assert mapped is not None and mapped.core_args == ("b",)
    assert isinstance(table, AbiTable) and table.allowed_imports() == {"m": frozenset({"f"})}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('result = "i32"', 'result = "f32"'), "result 'f32' is not one of"),
        (lambda t: t.replace('"b: i64"', '"b: f64"'), "param 'b: f64' is not \"name: type\""),
        (lambda t: t.replace('"b: i64"', '"b"'), "param 'b' is not \"name: type\""),
        (lambda t: t.replace('"b: i64"', '"a: i64"'), "param name 'a' is repeated or reserved"),
        (lambda t: t.replace('"b: i64"', '"int: i64"'), "param name 'int' is repeated"),
        (lambda t: t.replace('module = "m"', 'module = "x"'), "module 'x' is not declared"),
        (lambda t: t.replace('core = "rt_f"', 'core = "rt f"'), "field 'core' is 'rt f', not a C"),
        (lambda t: t.replace('core = "rt_f"', "cor = 1"), "unknown field 'cor'"),
        (lambda t: t.replace('core = "rt_f"', ""), "missing field 'core'"),
        (
            lambda t: t.replace('doc = "9"', 'doc = "9"\nc_runtime = false'),
            "c_runtime = false: no core",
        ),
        (
            lambda t: t.replace('doc = "9"', 'doc = "9"\nc_runtime = 0'),
            "'c_runtime' must be true or false",
        ),
        (lambda t: t.replace('doc = "9"', 'doc = "9"\nscope = "x"'), "scope 'x' is not one of"),
        (lambda t: t + 'core_args = ["c"]\n', "core_args names 'c', which is not a parameter"),
        (lambda t: t + "ends_call = true\n", "a function that ends the call cannot have a result"),
        (lambda t: t + t[t.index("[[function]]") :], "function m.f is listed twice"),
        (lambda t: t + '[[module]]\nname = "n"\ndoc = "1"\n', "module 'n' has no functions"),
        (lambda t: t.replace('doc = "9"', ""), "module #1: missing field 'doc'"),
        (lambda t: t + "x = 1\n", "unknown field 'x'"),
        (lambda t: "[[y]]\n" + t, "unknown top-level key 'y'"),
        (lambda t: t + "[oops\n", "not valid TOML"),
    ],
)
def test_malformed_table_is_refused_naming_the_entry(edit: object, message: str) -> None:
    assert callable(edit)
    with pytest.raises(AbiTableError, match=re.escape(message)):
        parse_table(edit(GOOD), "t.toml")
