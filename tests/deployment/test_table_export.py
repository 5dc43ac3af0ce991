"""Modules built for WAMR hosts do not export their function table: the host adds the export."""

from __future__ import annotations

from pathlib import Path

import wasmtime

from build_tools.toolchains import wabt
from edge_runtime.wasm_binary import TABLE_EXPORT, read_module_info, with_table_export

WAT = """(module
  (type $t (func (param i32) (result i32)))
  (func $double (type $t) (i32.mul (local.get 0) (i32.const 2)))
  (table 2 funcref)
  (elem (i32.const 1) $double)
  (memory (export "memory") 1)
  (func (export "start") (result i32) (i32.const 0)))
"""


def test_table_export_is_added_and_callable(tmp_path: Path) -> None:
    (tmp_path / "m.wat").write_text(WAT)
    wabt.wat2wasm(tmp_path / "m.wat", tmp_path / "m.wasm")
    original = (tmp_path / "m.wasm").read_bytes()
    assert TABLE_EXPORT not in [e.name for e in read_module_info(original).exports]
    patched = with_table_export(original)
    assert with_table_export(patched) == patched  # already exported: unchanged
    exports = {e.name: e.kind for e in read_module_info(patched).exports}
    assert exports == {"memory": "memory", "start": "func", TABLE_EXPORT: "table"}
    store = wasmtime.Store()
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, patched), [])
    table = instance.exports(store)[TABLE_EXPORT]
    assert isinstance(table, wasmtime.Table)
    func = table.get(store, 1)
    assert isinstance(func, wasmtime.Func)
    assert func(store, 21) == 42


def test_module_without_a_table_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "m.wat").write_text('(module (func (export "f")))')
    wabt.wat2wasm(tmp_path / "m.wat", tmp_path / "m.wasm")
    data = (tmp_path / "m.wasm").read_bytes()
    assert with_table_export(data) == data
