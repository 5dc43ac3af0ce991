"""A guest importing an allowed name with another type than the ABI table's is refused, naming
the import and both types: at build time (guest_abi, from the module bytes) and by the Python
host (from wasmtime's view of the module). Without this, wasm2c would link the mismatched
import to the glue silently."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import wasmtime

from edge_runtime.errors import GuestRejected
from edge_runtime.guest_abi import check_imports
from edge_runtime.host.models import ModelRegistry
from edge_runtime.host.runtime import GuestError, HostLimits, HostRuntime
from edge_runtime.wasm_binary import FuncType, read_module_info

# fd_seek's offset is i64 in the ABI; this guest declares it i32.
WRONG = """
(module
  (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1))
"""
RIGHT = WRONG.replace("(param i32 i32 i32 i32)", "(param i32 i64 i32 i32)")
NO_RESULT = """
(module
  (import "wasi_ephemeral_nn" "compute" (func (param i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))))
"""
MESSAGE = (
    "import wasi_snapshot_preview1.fd_seek has type (i32, i32, i32, i32) -> (i32); "
    "the ABI's is (i32, i64, i32, i32) -> (i32)"
)


def test_module_reader_reads_import_types() -> None:
    info = read_module_info(wasmtime.wat2wasm(RIGHT))
    assert info.imports[0].type == FuncType(("i32", "i64", "i32", "i32"), ("i32",))
    info = read_module_info(wasmtime.wat2wasm(NO_RESULT))
    assert [i.type for i in info.imports] == [FuncType(("i32",), ())] * 2


def test_build_refuses_a_wrong_import_type() -> None:
    check_imports(read_module_info(wasmtime.wat2wasm(RIGHT)), "right")
    with pytest.raises(GuestRejected, match="^wrong: " + re.escape(MESSAGE)):
        check_imports(read_module_info(wasmtime.wat2wasm(WRONG)), "wrong")
    with pytest.raises(GuestRejected, match=r"compute has type \(i32\) -> \(\); the ABI's is"):
        check_imports(read_module_info(wasmtime.wat2wasm(NO_RESULT)), "g")


@pytest.fixture(scope="module")
def runtime() -> Iterator[HostRuntime]:
    limits = HostLimits(memory_bytes=1 << 20, timeout_ms=1000, max_graphs=4, max_contexts=4)
    rt = HostRuntime(ModelRegistry(), "litert", limits)
    yield rt
    rt.close()


def test_host_refuses_a_wrong_import_type(runtime: HostRuntime) -> None:
    runtime.compile("right", wasmtime.wat2wasm(RIGHT))
    with pytest.raises(GuestError) as e:
        runtime.compile("wrong", wasmtime.wat2wasm(WRONG))
    assert str(e.value) == f"module wrong: {MESSAGE}"
