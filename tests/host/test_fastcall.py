"""The raw ctypes call path of the Python host (runtime_py/edge_runtime/host/fastcall.py).

Each behavioural test runs on both paths (fast and wasmtime-py's public API) and the two must
agree: the fast path is an optimisation, never a change of semantics.
"""

from __future__ import annotations

import gc
import logging
import resource
from collections.abc import Iterator

import pytest
import wasmtime

from edge_runtime.host import fastcall
from edge_runtime.host.models import ModelRegistry
from edge_runtime.host.runtime import CallResult, HostInstance, HostLimits, HostRuntime

TIMEOUT_MS = 100

# Exercises every kind of crossing: host calls with i32 and i64 arguments, pointers, traps after
# a host call, proc_exit from a nested frame, endless loops around host calls, memory growth.
GUEST = r"""
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_ephemeral_nn" "load_by_name" (func $load_by_name (param i32 i32 i32) (result i32)))
  (import "wasi_ephemeral_nn" "compute" (func $compute (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi\0a")
  (func $iov (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len)))
  ;; writes "hi\n" (or any range) to fd 1 and returns the errno
  (func (export "write") (param $ptr i32) (param $len i32) (result i32)
    (call $iov (local.get $ptr) (local.get $len))
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func (export "write_iovs_at") (param $iovs i32) (result i32)
    (call $fd_write (i32.const 1) (local.get $iovs) (i32.const 1) (i32.const 8)))
  (func (export "name_at") (param $ptr i32) (param $len i32) (result i32)
    (call $load_by_name (local.get $ptr) (local.get $len) (i32.const 32)))
  (func (export "compute") (param $ctx i32) (result i32) (call $compute (local.get $ctx)))
  (func (export "clock") (param $out i32) (result i32)
    (call $clock (i32.const 1) (i64.const -1) (local.get $out)))
  (func (export "trap_after_host") (result i32)
    (drop (call $yield))
    unreachable)
  (func $nested_exit (param $code i32) (drop (call $yield)) (call $proc_exit (local.get $code)))
  (func (export "exit") (param $code i32) (result i32)
    (call $nested_exit (local.get $code))
    (i32.const 99))
  (func (export "spin_host") (result i32)
    (loop $l (drop (call $yield)) (br $l))
    (i32.const 0))
  (func (export "grow_and_write") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 65536) (i32.const 65))
    (call $iov (i32.const 65536) (i32.const 1))
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
)
"""

NO_MEMORY = r"""
(module
  (import "wasi_ephemeral_nn" "compute" (func $compute (param i32) (result i32)))
  (func (export "compute") (result i32) (call $compute (i32.const 0))))
"""


@pytest.fixture(scope="module")
def runtime() -> Iterator[HostRuntime]:
    limits = HostLimits(memory_bytes=1 << 20, timeout_ms=TIMEOUT_MS, max_graphs=4, max_contexts=4)
    rt = HostRuntime(ModelRegistry(), "litert", limits)
    yield rt
    rt.close()


@pytest.fixture(params=[True, False], ids=["fast", "public"])
def fast(request: pytest.FixtureRequest, runtime: HostRuntime) -> bool:
    if request.param and not runtime.fastcall:
        pytest.skip("fast path unavailable with this wasmtime release")
    return bool(request.param)


def guest(runtime: HostRuntime, fast: bool, wat: str = GUEST) -> HostInstance:
    inst = runtime.instantiate("t", wasmtime.wat2wasm(wat), fast=fast)
    assert inst.fast is fast
    return inst


def same(r: CallResult) -> tuple[object, ...]:
    return (r.status, r.value, r.message, r.exit_code)


def test_pinned_version_takes_the_fast_path(runtime: HostRuntime) -> None:
    assert wasmtime.__name__ == "wasmtime"
    assert runtime.fastcall == fastcall.available()


def test_other_wasmtime_release_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fastcall.importlib.metadata, "version", lambda _name: "0.0.1")
    with caplog.at_level(logging.WARNING, logger=fastcall.__name__):
        assert fastcall.available.__wrapped__() is False
    assert "not the pinned" in caplog.text


def test_plain_call_and_signed_results(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert same(inst.call("add", [2, 3])) == ("ok", 5, "", None)
    assert inst.call("add", [0x7FFFFFFF, 1]).value == -(1 << 31)
    assert inst.call("add", [-1, 0xFFFFFFFF]).value == -2  # u32 arguments wrap as i32


def test_non_i32_export_and_bad_arity_use_the_public_api(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert same(inst.call("add64", [1 << 40, 2])) == ("ok", (1 << 40) + 2, "", None)
    r = inst.call("add", [1])
    assert r.status == "error" and "too few parameters" in r.message


def test_host_calls_read_and_write_guest_memory(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert inst.call("write", [16, 3]).value == 0
    assert inst.logs() == b"hi\n"
    mem = inst.memory_view(inst.store)
    assert mem is not None and mem.u32(8) == 3  # nwritten
    assert inst.call("clock", [64]).value == 0  # i64 argument (precision -1) crosses intact
    assert mem.bytes[64:72].view("<u8")[0] > 0


def test_out_of_bounds_pointers_are_errors_not_traps(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert inst.call("write", [65535, 2]).value == 21  # EFAULT: one byte past the end
    assert inst.call("write_iovs_at", [-8]).value == 21  # 0xFFFFFFF8: read unsigned, not -8
    assert inst.call("name_at", [0xFFFFFFFF, 2]).value == 1  # invalid_argument, no wrap to 1
    assert inst.call("name_at", [16, 0]).value == 1  # empty name
    assert inst.call("compute", [12345]).value == 1  # unknown context
    assert inst.logs() == b""
    assert inst.call("add", [1, 2]).value == 3  # the instance is still usable


def test_memory_growth_refreshes_the_view(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert inst.call("write", [16, 3]).value == 0  # caches the one-page view
    assert inst.call("grow_and_write", []).value == 0  # the new page is visible to the host
    assert inst.logs() == b"hi\nA"


def test_trap_after_a_host_call(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    r = inst.call("trap_after_host", [])
    assert (r.status, r.message) == ("trap", "trap: unreachable")
    assert inst.call("add", [1, 1]).value == 2


def test_proc_exit_from_a_nested_frame(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    assert same(inst.call("exit", [7])) == ("exit", None, "guest called proc_exit(7)", 7)
    assert same(inst.call("add", [1, 1])) == ("ok", 2, "", None)  # nothing left pending
    assert inst.call("exit", [0]).exit_code == 0


def test_timeout_while_crossing_into_the_host(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast)
    r = inst.call("spin_host", [])
    assert (r.status, r.message) == ("timeout", f"timeout: call exceeded {TIMEOUT_MS} ms")
    assert r.elapsed_us >= TIMEOUT_MS * 1000
    assert inst.call("add", [2, 2]).value == 4  # the next call gets a fresh deadline


def test_guest_without_memory(runtime: HostRuntime, fast: bool) -> None:
    inst = guest(runtime, fast, NO_MEMORY)
    assert inst.call("compute", []).value == 3  # missing_memory


def test_instances_are_isolated(runtime: HostRuntime, fast: bool) -> None:
    a, b = guest(runtime, fast), guest(runtime, fast)
    assert a.call("exit", [5]).status == "exit"
    assert b.call("write", [16, 3]).value == 0
    assert (a.logs(), b.logs()) == (b"", b"hi\n")


def test_a_failing_host_function_does_not_escape(
    runtime: HostRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not runtime.fastcall:
        pytest.skip("fast path unavailable")
    inst = guest(runtime, True)

    def broken(caller: int) -> None:
        raise RuntimeError("memory lookup failed")

    monkeypatch.setattr(inst, "_raw_memory_view", broken)
    r = inst.call("write", [16, 3])
    assert r.status == "error" and "memory lookup failed" in r.message
    monkeypatch.undo()
    assert inst.call("write", [16, 3]).value == 0


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() // 1024


def test_many_calls_do_not_leak(runtime: HostRuntime) -> None:
    if not runtime.fastcall:
        pytest.skip("fast path unavailable")
    inst = guest(runtime, True)
    logging.disable(logging.INFO)  # the unknown-context calls log at INFO
    try:

        def burst(n: int) -> None:
            for i in range(n):
                assert inst.call("compute", [99]).value == 1
                assert inst.call("write", [16, 0]).value == 0
                if i % 20 == 0:
                    assert inst.call("trap_after_host", []).status == "trap"
                    assert inst.call("exit", [1]).status == "exit"

        burst(2000)  # warm caches and allocator pools
        gc.collect()
        objects, rss = len(gc.get_objects()), _rss_kib()
        burst(20000)
        gc.collect()
        assert len(gc.get_objects()) - objects < 100
        assert _rss_kib() - rss < 4096
    finally:
        logging.disable(logging.NOTSET)
