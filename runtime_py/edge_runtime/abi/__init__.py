"""The host interface guests may import, as data: one table (`imports.toml`, documented there).

Everything that lists imports is derived from it: the guest allow-list (`guest_abi`), the Python
host's import signatures (`host/runtime.py`), and the C runtime's generated import glue
(`abi/c_glue.py`). `docs/abi.md` is the human spec; tests/abi/ checks the two agree.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AbiTableError

TABLE = Path(__file__).with_name("imports.toml")

# wasm value type -> signature letter (WAMR's, also the Python host's): i32 "i", i64 "I".
VALUE_TYPES = {"i32": "i", "i64": "I"}

_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names the generated C uses itself, and C99 keywords: not usable as parameter names.
_C_KEYWORDS = (
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while"
)
_RESERVED = frozenset(["inst", "env", "exec_env", "res", *_C_KEYWORDS.split()])
_MODULE_KEYS = {"name", "doc", "scope", "c_runtime"}
SCOPES = ("instance", "deployment")
_FUNCTION_KEYS = {
    "module",
    "name",
    "params",
    "result",
    "ends_call",
    "core",
    "core_args",
    "c_runtime",
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a key of VALUE_TYPES


@dataclass(frozen=True)
class Function:
    module: str
    name: str
    params: tuple[Param, ...]
    result: str | None  # a key of VALUE_TYPES, or None
    ends_call: bool
    core: str | None  # C runtime: core function called as core(inst, *core_args)
    core_args: tuple[str, ...]

    @property
    def param_letters(self) -> str:
        """Parameter types as letters: "iIi" is (i32, i64, i32)."""
        return "".join(VALUE_TYPES[p.type] for p in self.params)

    @property
    def has_result(self) -> bool:
        return self.result is not None

    @property
    def wamr_signature(self) -> str:
        """WAMR's NativeSymbol signature: "(iIi)i"; every pointer is a plain i32 offset."""
        result = VALUE_TYPES[self.result] if self.result is not None else ""
        return f"({self.param_letters}){result}"


@dataclass(frozen=True)
class Module:
    name: str
    doc: str  # the docs/abi.md section number that specifies it
    functions: tuple[Function, ...]
    scope: str = "instance"  # "deployment": given only to the instances of a deployment
    c_runtime: bool = True  # False: not implemented by the C runtime yet (no core, no glue)

    def function(self, name: str) -> Function | None:
        return next((f for f in self.functions if f.name == name), None)

    @property
    def c_functions(self) -> tuple[Function, ...]:
        """The functions the C runtime implements (those with a core function)."""
        return tuple(f for f in self.functions if f.core is not None)


@dataclass(frozen=True)
class AbiTable:
    modules: tuple[Module, ...]

    def module(self, name: str) -> Module | None:
        return next((m for m in self.modules if m.name == name), None)

    def function(self, module: str, name: str) -> Function | None:
        m = self.module(module)
        return m.function(name) if m is not None else None

    @property
    def c_modules(self) -> tuple[Module, ...]:
        """The modules the C runtime implements (what its import glue covers)."""
        return tuple(m for m in self.modules if m.c_runtime)

    def allowed_imports(self) -> dict[str, frozenset[str]]:
        return {m.name: frozenset(f.name for f in m.functions) for m in self.modules}


def parse_table(text: str, what: str = "imports.toml") -> AbiTable:
    """Reads and checks a table; an error names the entry and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise AbiTableError(f"{what}: not valid TOML: {e}") from e
    unknown = set(data) - {"module", "function"}
    if unknown:
        raise AbiTableError(f"{what}: unknown top-level key {sorted(unknown)[0]!r}")
    modules: dict[str, tuple[str, list[Function]]] = {}
    options: dict[str, tuple[str, bool]] = {}  # module -> (scope, c_runtime)
    for i, raw in enumerate(_list_of_tables(data, "module", what)):
        where = f"{what}: module #{i + 1}"
        _check_keys(raw, _MODULE_KEYS, {"name", "doc"}, where)
        name = _string(raw, "name", where)
        if name in modules:
            raise AbiTableError(f"{where}: module {name!r} is listed twice")
        modules[name] = (_string(raw, "doc", where), [])
        scope = raw.get("scope", "instance")
        if scope not in SCOPES:
            raise AbiTableError(f"{where}: scope {scope!r} is not one of {', '.join(SCOPES)}")
        c_runtime = raw.get("c_runtime", True)
        if not isinstance(c_runtime, bool):
            raise AbiTableError(f"{where}: field 'c_runtime' must be true or false")
        options[name] = (scope, c_runtime)
    for i, raw in enumerate(_list_of_tables(data, "function", what)):
        fn = _function(raw, f"{what}: function #{i + 1}", modules, options)
        functions = modules[fn.module][1]
        if any(f.name == fn.name for f in functions):
            raise AbiTableError(f"{what}: function {fn.module}.{fn.name} is listed twice")
        functions.append(fn)
    for name, (_, functions) in modules.items():
        if not functions:
            raise AbiTableError(f"{what}: module {name!r} has no functions")
    return AbiTable(
        tuple(Module(n, doc, tuple(fs), *options[n]) for n, (doc, fs) in modules.items())
    )


@functools.cache
def load_table(path: Path = TABLE) -> AbiTable:
    """The project's table (read once per process)."""
    return parse_table(path.read_text(), path.name)


def _list_of_tables(data: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise AbiTableError(f"{what}: {key!r} must be an array of tables ([[{key}]])")
    return value


def _check_keys(raw: dict[str, Any], known: set[str], required: set[str], where: str) -> None:
    for key in sorted(set(raw) - known):
        raise AbiTableError(f"{where}: unknown field {key!r}")
    for key in sorted(required - set(raw)):
        raise AbiTableError(f"{where}: missing field {key!r}")


def _string(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise AbiTableError(f"{where}: field {key!r} must be a non-empty string")
    return value


def _c_ident(raw: dict[str, Any], key: str, where: str) -> str:
    value = _string(raw, key, where)
    if not _C_IDENT.match(value):
        raise AbiTableError(f"{where}: field {key!r} is {value!r}, not a C identifier")
    return value


def _function(
    raw: dict[str, Any],
    where: str,
    modules: dict[str, tuple[str, list[Function]]],
    options: dict[str, tuple[str, bool]],
) -> Function:
    _check_keys(raw, _FUNCTION_KEYS, {"module", "name", "params"}, where)
    module, name = _string(raw, "module", where), _string(raw, "name", where)
    where = f"{where} ({module}.{name})"
    if module not in modules:
        raise AbiTableError(f"{where}: module {module!r} is not declared with [[module]]")
    c_runtime = options[module][1]
    own = raw.get("c_runtime", c_runtime)  # a function of a C module may be host-only
    if not isinstance(own, bool) or (own and not c_runtime):
        raise AbiTableError(
            f"{where}: field 'c_runtime' must be false (or absent) in a module "
            f"{'without' if not c_runtime else 'with'} the C runtime"
        )
    c_runtime = own
    if c_runtime and "core" not in raw:
        raise AbiTableError(f"{where}: missing field 'core'")
    if not c_runtime and ("core" in raw or "core_args" in raw):
        raise AbiTableError(f"{where}: {module}.{name} has c_runtime = false: no core")
    params = _params(raw["params"], where)
    result = raw.get("result")
    if result is not None and result not in VALUE_TYPES:
        raise AbiTableError(f"{where}: result {result!r} is not one of {', '.join(VALUE_TYPES)}")
    ends_call = raw.get("ends_call", False)
    if not isinstance(ends_call, bool):
        raise AbiTableError(f"{where}: field 'ends_call' must be true or false")
    if ends_call and result is not None:
        raise AbiTableError(f"{where}: a function that ends the call cannot have a result")
    names = [p.name for p in params]
    core_args = raw.get("core_args", names)
    if not isinstance(core_args, list) or not all(isinstance(a, str) for a in core_args):
        raise AbiTableError(f"{where}: field 'core_args' must be a list of parameter names")
    for arg in core_args:
        if arg not in names:
            raise AbiTableError(f"{where}: core_args names {arg!r}, which is not a parameter")
    core = _c_ident(raw, "core", where) if c_runtime else None
    return Function(module, name, params, result, ends_call, core, tuple(core_args))


def _params(value: Any, where: str) -> tuple[Param, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise AbiTableError(f"{where}: field 'params' must be a list of \"name: type\" strings")
    params: list[Param] = []
    for text in value:
        name, sep, ptype = (s.strip() for s in text.partition(":"))
        if not sep or not _C_IDENT.match(name) or ptype not in VALUE_TYPES:
            raise AbiTableError(
                f'{where}: param {text!r} is not "name: type" with a C identifier and type '
                f"{' or '.join(VALUE_TYPES)}"
            )
        if any(p.name == name for p in params) or name in _RESERVED:
            raise AbiTableError(f"{where}: param name {name!r} is repeated or reserved")
        params.append(Param(name, ptype))
    return tuple(params)
