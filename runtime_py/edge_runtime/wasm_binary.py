"""Reads the import and export sections of a wasm binary (enough to check and describe guests)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import GuestRejected

KIND_NAMES = {0: "func", 1: "table", 2: "memory", 3: "global"}
VALUE_TYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}
VALUE_TYPES.update({0x70: "funcref", 0x6F: "externref"})


@dataclass(frozen=True)
class FuncType:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        return f"({', '.join(self.params)}) -> ({', '.join(self.results)})"


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    type: FuncType | None = None  # for functions


@dataclass(frozen=True)
class Export:
    name: str
    kind: str


@dataclass(frozen=True)
class ModuleInfo:
    imports: tuple[Import, ...]
    exports: tuple[Export, ...]

    @property
    def is_reactor(self) -> bool:
        return any(e.name == "_initialize" for e in self.exports)

    @property
    def is_command(self) -> bool:
        return any(e.name == "_start" for e in self.exports)


class _Reader:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def fail(self, reason: str) -> GuestRejected:
        return GuestRejected(f"{self.what}: malformed wasm at byte {self.pos}: {reason}")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 28:
                raise self.fail("LEB128 too long")
        return result

    def name(self) -> str:
        n = self.u32()
        if self.pos + n > len(self.data):
            raise self.fail("name past end")
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail("name is not UTF-8") from e

    def value_types(self) -> tuple[str, ...]:
        types = []
        for _ in range(self.u32()):
            code = self.byte()
            if code not in VALUE_TYPES:
                raise self.fail(f"unknown value type 0x{code:02x}")
            types.append(VALUE_TYPES[code])
        return tuple(types)

    def func_type(self) -> FuncType:
        if self.byte() != 0x60:
            raise self.fail("type entry is not a function type")
        params = self.value_types()
        return FuncType(params, self.value_types())

    def skip_limits(self) -> None:
        flags = self.u32()
        self.u32()
        if flags & 1:
            self.u32()


def read_module_info(data: bytes, what: str = "module") -> ModuleInfo:
    r = _Reader(data, what)
    if data[:4] != b"\0asm":
        raise r.fail("no \\0asm magic")
    if data[4:8] != b"\x01\0\0\0":
        raise r.fail("unsupported version (core wasm 1 expected; components are not supported)")
    r.pos = 8
    types: list[FuncType] = []
    imports: list[Import] = []
    exports: list[Export] = []
    while r.pos < len(data):
        section = r.byte()
        size = r.u32()
        end = r.pos + size
        if end > len(data):
            raise r.fail(f"section {section} runs past the end")
        if section == 1:
            types = [r.func_type() for _ in range(r.u32())]
        elif section == 2:
            for _ in range(r.u32()):
                module, name, kind = r.name(), r.name(), r.byte()
                func_type = None
                if kind == 0:
                    index = r.u32()
                    if index >= len(types):
                        raise r.fail(f"import {module}.{name} names type {index}, not defined")
                    func_type = types[index]
                elif kind == 1:
                    r.byte()
                    r.skip_limits()
                elif kind == 2:
                    r.skip_limits()
                elif kind == 3:
                    r.byte()
                    r.byte()
                else:
                    raise r.fail(f"unknown import kind {kind}")
                imports.append(Import(module, name, KIND_NAMES[kind], func_type))
        elif section == 7:
            for _ in range(r.u32()):
                name, kind = r.name(), r.byte()
                r.u32()
                exports.append(Export(name, KIND_NAMES.get(kind, f"kind{kind}")))
        r.pos = end
    return ModuleInfo(tuple(imports), tuple(exports))


TABLE_EXPORT = "__indirect_function_table"  # the name `wasm-ld --export-table` gives it
_SECTIONS_AFTER_EXPORT = (8, 9, 12, 10, 11)  # start, element, data count, code, data


def _leb_u32(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def with_table_export(data: bytes, what: str = "module") -> bytes:
    """The module with table 0 exported as `TABLE_EXPORT` (unchanged if it already exports a
    table or has none).

    A host outside WAMR calls a guest's C function pointers (table indices) through the table;
    modules built for WAMR hosts do not export it, so the host adds the export to its own copy
    of the bytes (the sha256 a deployment checks is that of the original file).
    """
    r = _Reader(data, what)
    if data[:8] != b"\0asm\x01\0\0\0":
        raise r.fail("no \\0asm magic or not core wasm 1")
    r.pos = 8
    has_table = False
    export_at: tuple[int, int, int] | None = None  # section start, body start, end
    insert_at = len(data)
    while r.pos < len(data):
        start = r.pos
        section = r.byte()
        size = r.u32()
        body, end = r.pos, r.pos + size
        if end > len(data):
            raise r.fail(f"section {section} runs past the end")
        if section == 4:
            has_table = r.u32() > 0
        elif section == 2:
            for _ in range(r.u32()):
                r.name()
                r.name()
                kind = r.byte()
                if kind == 0:
                    r.u32()
                elif kind == 1:
                    has_table = True
                    r.byte()
                    r.skip_limits()
                elif kind == 2:
                    r.skip_limits()
                else:
                    r.byte()
                    r.byte()
        elif section == 7:
            export_at = (start, body, end)
            for _ in range(r.u32()):
                r.name()
                if r.byte() == 1:
                    return data  # a table is exported already
                r.u32()
        elif section in _SECTIONS_AFTER_EXPORT and insert_at == len(data):
            insert_at = start
        r.pos = end
    if not has_table:
        return data
    name = TABLE_EXPORT.encode()
    entry = _leb_u32(len(name)) + name + b"\x01" + _leb_u32(0)
    if export_at is None:
        payload = _leb_u32(1) + entry
        section_bytes = b"\x07" + _leb_u32(len(payload)) + payload
        return data[:insert_at] + section_bytes + data[insert_at:]
    start, body_start, end = export_at
    r.pos = body_start
    count = r.u32()
    payload = _leb_u32(count + 1) + data[r.pos : end] + entry
    return data[:start] + b"\x07" + _leb_u32(len(payload)) + payload + data[end:]
