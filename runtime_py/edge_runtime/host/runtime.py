"""The Python wasmtime host: compiles modules, instantiates guests with wasi-nn and the WASI
subset, and runs exports under per-instance memory and CPU-time limits.

One `HostRuntime` per process (one engine, one module cache, one model loader); one store and
linker per `HostInstance`, so limits, handles and captured output never leak between instances.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import wasmtime
from wasmtime import _ffi as wasmtime_ffi

from ..abi import Function, load_table
from ..errors import EdgeRuntimeError
from ..guest_abi import ALLOWED_IMPORTS, IMAGE, WASI, WASI_NN, WASI_NN_LEGACY, abi_type
from ..wasm_binary import TABLE_EXPORT, FuncType
from . import fastcall
from .image import EdgeImage
from .loader import GraphLoader
from .memory import U32_MAX, GuestMemory
from .models import ModelRegistry
from .wasi import ProcExit, Wasi, WasiState
from .wasi_nn import NnError, WasiNn
from .wasi_nn_legacy import WasiNnLegacy
from .watchdog import EpochTicker

log = logging.getLogger(__name__)

I32 = wasmtime.ValType.i32()
I64 = wasmtime.ValType.i64()
VAL_TYPES = {"i32": I32, "i64": I64}


class GuestError(EdgeRuntimeError):
    """A module could not be compiled or instantiated (names the module and the reason)."""


@dataclass(frozen=True)
class HostLimits:
    memory_bytes: int
    timeout_ms: int
    max_graphs: int
    max_contexts: int


@dataclass(frozen=True)
class CallResult:
    status: str  # ok | trap | timeout | exit | error
    value: int | None
    message: str
    elapsed_us: int
    exit_code: int | None = None


# Proposals wasmtime would otherwise accept: all off, so that a guest the host runs uses only
# what docs/abi.md allows (MVP + sign-ext + mutable-globals) and so also runs on the MCUs.
# wasmtime has no switch for the finished proposals sign-ext, mutable-globals (both allowed),
# saturating float-to-int and extended-const; the guest build refuses the latter two
# (wasm-validate with toolchains.wabt.STRICT_FEATURES).
DISABLED_PROPOSALS = (
    "wasm_simd",
    "wasm_relaxed_simd",
    "wasm_bulk_memory",
    "wasm_reference_types",
    "wasm_multi_value",
    "wasm_threads",
    "wasm_tail_call",
    "wasm_multi_memory",
    "wasm_memory64",
    "wasm_gc",
    "wasm_function_references",
    "wasm_exceptions",
    "wasm_wide_arithmetic",
    "wasm_custom_page_sizes",
    "wasm_stack_switching",
    "wasm_component_model",
)

WASM_MAGIC = b"\0asm"


# Switches wasmtime-py does not wrap; the engine refuses reference types off while these are on.
DISABLED_RAW = (
    "wasm_component_model_async",
    "wasm_component_model_async_stackful",
    "wasm_component_model_more_async_builtins",
)


def engine_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = True
    for raw in DISABLED_RAW:
        setter = getattr(wasmtime_ffi.dll, f"wasmtime_config_{raw}_set", None)
        if setter is not None:
            setter.argtypes = [ctypes.c_void_p, ctypes.c_bool]
            setter.restype = None
            setter(config.ptr(), False)
    for proposal in DISABLED_PROPOSALS:
        setattr(config, proposal, False)
    return config


class NestedCallFailed(Exception):
    """A guest function called from inside a host function failed (trap, timeout, exit): the
    outer guest call ends with the same result."""

    def __init__(self, result: CallResult) -> None:
        super().__init__(result.message)
        self.result = result


class HostRuntime:
    def __init__(
        self, registry: ModelRegistry, backend: str, limits: HostLimits, explicit: bool = False
    ) -> None:
        """`explicit`: `backend` was asked for by the user and never falls back to another."""
        self.engine = wasmtime.Engine(engine_config())
        self.limits = limits
        self.loader = GraphLoader(registry, backend, explicit)
        # WASI arguments (without argv[0]: each instance's module name) and environment of the
        # instances; None: no arguments at all (docs/abi.md section 4).
        self.guest_args: tuple[bytes, ...] | None = None
        self.guest_environ: tuple[bytes, ...] = ()
        self._modules: dict[str, wasmtime.Module] = {}
        self.ticker = EpochTicker(self.engine)
        # Raw ctypes calls for our i32/i64 signatures when the pinned wasmtime-py is installed.
        self.fastcall = fastcall.available()

    def compile(self, name: str, wasm: bytes) -> wasmtime.Module:
        digest = hashlib.sha256(wasm).hexdigest()
        module = self._modules.get(digest)
        if module is None:
            if not wasm.startswith(WASM_MAGIC):  # wasmtime would try bytes as text format
                raise GuestError(
                    f"module {name}: not a wasm binary (starts with {wasm[:4].hex() or 'nothing'},"
                    f" not 0061736d)"
                )
            try:
                module = wasmtime.Module(self.engine, wasm)
            except wasmtime.WasmtimeError as e:
                raise GuestError(f"module {name}: does not compile: {error_cause(e)}") from e
            _check_imports(name, module)
            self._modules[digest] = module
        return module

    def instantiate(
        self,
        name: str,
        wasm: bytes,
        fast: bool | None = None,
        provided: dict[str, object] | None = None,
        limits: HostLimits | None = None,
        preopens: tuple[tuple[str, Path], ...] = (),
    ) -> HostInstance:
        """`fast=False` forces wasmtime-py's public call API (comparison, fallback tests);
        `provided` implements the table's deployment-scope modules for this instance (module
        name -> object with one method per function); `limits` overrides the runtime's;
        `preopens`: (guest path, host directory) pairs pre-opened for WASI (fds 3, 4, ...)."""
        self.ticker.start()
        module = self.compile(name, wasm)
        return HostInstance(self, name, module, fast, provided, limits, preopens)

    def close(self) -> None:
        self.ticker.stop()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def error_cause(e: Exception) -> str:
    """A wasmtime error in one line, with its causes: "failed to parse WebAssembly module:
    unexpected end-of-file (at offset 0xa)" rather than the first line alone (the backtrace,
    which says nothing to a user, is left out)."""
    text = str(e).strip()
    if not text:
        return type(e).__name__
    head, _, causes = text.partition("\n\nCaused by:\n")
    parts = [] if head.startswith("error while executing at wasm backtrace") else [head]
    for line in causes.splitlines():
        line = line.strip()
        if line:
            number, sep, rest = line.partition(": ")
            parts.append(rest if sep and number.isdigit() else line)
    return ": ".join(parts) or head.splitlines()[0]


def _check_imports(name: str, module: wasmtime.Module) -> None:
    for imp in module.imports:
        allowed = ALLOWED_IMPORTS.get(imp.module, frozenset())
        if imp.name not in allowed or not isinstance(imp.type, wasmtime.FuncType):
            raise GuestError(
                f"module {name}: import {imp.module}.{imp.name} is not in the allowed ABI",
                hint="guests may import only what docs/abi.md lists",
            )
        ty = imp.type
        found = FuncType(tuple(map(str, ty.params)), tuple(map(str, ty.results)))
        expected = abi_type(imp.module, imp.name)
        if found != expected:
            raise GuestError(
                f"module {name}: import {imp.module}.{imp.name} has type {found}; "
                f"the ABI's is {expected}",
                hint="see docs/abi.md",
            )


class HostInstance:
    def __init__(
        self,
        runtime: HostRuntime,
        name: str,
        module: wasmtime.Module,
        fast: bool | None = None,
        provided: dict[str, object] | None = None,
        limits: HostLimits | None = None,
        preopens: tuple[tuple[str, Path], ...] = (),
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.store = wasmtime.Store(runtime.engine)
        self.limits = limits = limits or runtime.limits
        self.store.set_limits(memory_size=limits.memory_bytes)
        argv = () if runtime.guest_args is None else (name.encode(), *runtime.guest_args)
        self.wasi_state = WasiState(
            args=argv, environ=runtime.guest_environ, preopens=tuple(preopens)
        )
        self.nn = WasiNn(runtime.loader, limits.max_graphs, limits.max_contexts)
        self.images = EdgeImage(self.nn, limits.memory_bytes)
        self._memory: wasmtime.Memory | None = None
        self._view_key: tuple[int, int] = (0, -1)
        self._view = GuestMemory(np.zeros(0, np.uint8))
        self.fast = runtime.fastcall if fast is None else fast and runtime.fastcall
        self._pending = fastcall.Pending()
        self._raw_memory: fastcall.RawMemory | None = None
        self._guest_funcs: dict[str, fastcall.GuestFunc | None] = {}
        linker = wasmtime.Linker(runtime.engine)
        # Held for the store's lifetime: the engine calls these callbacks by address.
        self._host_funcs: fastcall.HostFuncs | None = None
        self._provided = provided or {}
        _check_provided(name, module, self._provided)
        if self.fast:
            self._host_funcs = fastcall.HostFuncs(linker, self._pending)
            self._define_fast(self._host_funcs)
        else:
            self._define(linker)
        self.exports: dict[str, Any] = {}
        self._deadline = fastcall.EpochDeadline(self.store) if self.fast else None
        self.store.set_epoch_deadline(runtime.ticker.deadline_ticks(limits.timeout_ms))
        try:
            instance = linker.instantiate(self.store, module)
        except wasmtime.Trap as e:  # in the start function
            why = (
                f"interrupt: the start function exceeded the {limits.timeout_ms} ms time limit"
                if e.trap_code == wasmtime.TrapCode.INTERRUPT
                else error_cause(e)
            )
            raise GuestError(f"module {name}: cannot instantiate: {why}") from e
        except wasmtime.WasmtimeError as e:
            raise GuestError(f"module {name}: cannot instantiate: {error_cause(e)}") from e
        self.exports = dict(instance.exports(self.store).items())
        memory = self.exports.get("memory")
        self._memory = memory if isinstance(memory, wasmtime.Memory) else None
        if self.fast and self._memory is not None:
            self._raw_memory = fastcall.RawMemory(self.store, self._memory)
        self.command = "_start" in self.exports
        self.initialized = False
        table = self.exports.get(TABLE_EXPORT)
        self._table = table if isinstance(table, wasmtime.Table) else None
        self._table_funcs: dict[int, wasmtime.Func] = {}  # guests do not rewrite their table

    # -- host imports ---------------------------------------------------------------------

    def _host_imports(self) -> list[tuple[Function, Callable[..., Any], str]]:
        """Every import of the ABI table this instance gets, the method implementing it (one
        object per module, one method per function name) and its error contract: "nn" (an
        exception is runtime_error; wasi-nn, legacy wasi_nn and edge_image), "wasi" (EIO) or
        "ends" (deployment modules such as the EVP SDK: an exception ends the guest call, e.g. a
        callback that trapped)."""
        implementations: dict[str, object] = {
            WASI_NN: self.nn,
            WASI_NN_LEGACY: WasiNnLegacy(self.nn),
            WASI: Wasi(self.wasi_state),
            IMAGE: self.images,
        }
        implementations.update(self._provided)
        contracts = {WASI_NN: "nn", WASI_NN_LEGACY: "nn", WASI: "wasi", IMAGE: "nn"}
        return [
            (fn, getattr(implementations[module.name], fn.name), contracts.get(module.name, "ends"))
            for module in load_table().modules
            if module.scope == "instance" or module.name in self._provided
            for fn in module.functions
        ]

    def _define(self, linker: wasmtime.Linker) -> None:
        for fn, method, contract in self._host_imports():
            ty = wasmtime.FuncType(
                [VAL_TYPES[p.type] for p in fn.params],
                [VAL_TYPES[fn.result]] if fn.result is not None else [],
            )
            if contract == "nn":
                wrapped = self._nn_import(method)
            elif contract == "wasi":
                wrapped = self._wasi_import(method, fn.param_letters)
            else:
                wrapped = self._ends_import(method, fn.param_letters)
            linker.define_func(fn.module, fn.name, ty, wrapped, access_caller=True)

    def _define_fast(self, funcs: fastcall.HostFuncs) -> None:
        wrappers = {"nn": self._nn_fast, "wasi": self._wasi_fast, "ends": self._ends_fast}
        for fn, method, contract in self._host_imports():
            handler = wrappers[contract](method)
            funcs.define(fn.module, fn.name, fn.param_letters, fn.has_result, handler)

    def memory_view(self, caller: wasmtime.Caller | wasmtime.Store) -> GuestMemory | None:
        memory = self._memory
        if memory is None:
            found = caller.get("memory") if isinstance(caller, wasmtime.Caller) else None
            if not isinstance(found, wasmtime.Memory):
                return None
            memory = found
        ptr = memory.data_ptr(caller)
        size = memory.data_len(caller)
        key = (ctypes.addressof(ptr.contents) if size else 0, size)
        if key != self._view_key:  # memory moved or grew: rebuild the numpy view
            self._view = GuestMemory.from_pointer(ptr, size)
            self._view_key = key
        return self._view

    def current_memory(self) -> GuestMemory | None:
        """The memory view as of now (e.g. inside a host function after a nested guest call
        that may have grown it), by the fast path's accessors when available."""
        raw = self._raw_memory
        if raw is None:
            return self.memory_view(self.store)
        return self._view_of(*raw.locate_in_store())

    def _view_of(self, address: int, size: int) -> GuestMemory:
        key = (address if size else 0, size)
        if key != self._view_key:  # memory moved or grew: rebuild the numpy view
            ptr = ctypes.cast(address, ctypes.POINTER(ctypes.c_ubyte))
            self._view = GuestMemory.from_pointer(ptr, size)
            self._view_key = key
        return self._view

    def _raw_memory_view(self, caller: int) -> GuestMemory | None:
        """`memory_view` for the fast path: same cache, keyed by data address and size."""
        raw = self._raw_memory
        if raw is None:  # before exports are known, or no exported memory: look up by name
            obj = fastcall.caller_object(caller)
            try:
                return self.memory_view(obj)
            finally:
                obj._invalidate()
        return self._view_of(*raw.locate(caller))

    def _nn_fast(self, method: Callable[..., int]) -> fastcall.HostHandler:
        # Same contract as _nn_import; i32 arguments arrive already unsigned. This runs three
        # times per inference, so the common case (memory neither moved nor grew since the
        # last call) is inlined: one C call for the size, no helper layers.
        def call(caller: int, args: tuple[int, ...]) -> int:
            try:
                raw = self._raw_memory
                if raw is not None:
                    _base, size = raw.locate(caller)
                    if size == self._view_key[1] and size:
                        return method(self._view, *args)
                mem = self._raw_memory_view(caller)
                if mem is None:
                    return int(NnError.MISSING_MEMORY)
                return method(mem, *args)
            except Exception:  # never unwind into the engine
                log.exception("wasi-nn host function failed")
                return int(NnError.RUNTIME_ERROR)

        return call

    def _wasi_fast(self, method: Callable[..., Any]) -> fastcall.HostHandler:
        # Same contract as _wasi_import; i32 arguments unsigned, i64 signed.
        def call(caller: int, args: tuple[int, ...]) -> Any:
            mem = self._raw_memory_view(caller) or GuestMemory(np.zeros(0, np.uint8))
            try:
                return method(mem, *args)
            except ProcExit:
                raise
            except Exception:
                log.exception("wasi host function failed")
                return 29  # EIO

        return call

    def _nn_import(self, method: Callable[..., int]) -> Callable[..., int]:
        def call(caller: wasmtime.Caller, *args: int) -> int:
            try:
                mem = self.memory_view(caller)
                if mem is None:
                    return int(NnError.MISSING_MEMORY)
                return method(mem, *[a & U32_MAX for a in args])
            except Exception:  # never unwind into the engine
                log.exception("wasi-nn host function failed")
                return int(NnError.RUNTIME_ERROR)

        return call

    def _wasi_import(self, method: Callable[..., Any], params: str) -> Callable[..., Any]:
        def call(caller: wasmtime.Caller, *args: int) -> Any:
            mem = self.memory_view(caller) or GuestMemory(np.zeros(0, np.uint8))
            unsigned = [a & U32_MAX if p == "i" else a for p, a in zip(params, args, strict=True)]
            try:
                return method(mem, *unsigned)
            except ProcExit:
                raise
            except Exception:
                log.exception("wasi host function failed")
                return 29  # EIO

        return call

    def _ends_fast(self, method: Callable[..., Any]) -> fastcall.HostHandler:
        # An exception is parked by fastcall and ends the guest call (see _host_raised).
        def call(caller: int, args: tuple[int, ...]) -> Any:
            mem = self._raw_memory_view(caller) or GuestMemory(np.zeros(0, np.uint8))
            return method(mem, *args)

        return call

    def _ends_import(self, method: Callable[..., Any], params: str) -> Callable[..., Any]:
        def call(caller: wasmtime.Caller, *args: int) -> Any:
            mem = self.memory_view(caller) or GuestMemory(np.zeros(0, np.uint8))
            unsigned = [a & U32_MAX if p == "i" else a for p, a in zip(params, args, strict=True)]
            return method(mem, *unsigned)

        return call

    # -- calls ----------------------------------------------------------------------------

    def ensure_initialized(self) -> CallResult | None:
        """Runs `_initialize` once for reactors (docs/abi.md section 1); returns its failure."""
        if self.initialized or "_initialize" not in self.exports:
            self.initialized = True
            return None
        self.initialized = True
        result = self.call("_initialize", [])
        return None if result.status == "ok" else result

    def call(self, export: str, args: list[int], *, nested: bool = False) -> CallResult:
        """`nested`: called from inside a host function; runs under the CPU-time budget of the
        guest call in progress instead of starting a new one."""
        func = self.exports.get(export)
        if not isinstance(func, wasmtime.Func):
            return CallResult("error", None, f"{self.name} has no exported function {export!r}", 0)
        if not self.initialized and export not in ("_initialize", "_start"):
            failed = self.ensure_initialized()
            if failed is not None:
                return failed
        return self._call(export, func, args, nested)

    def call_table(self, index: int, args: list[int], *, nested: bool = False) -> CallResult:
        """Calls entry `index` of the guest's function table (a C function pointer), e.g. a
        callback the guest registered; needs the table exported as `TABLE_EXPORT`."""
        label = f"function pointer {index}"
        func = self._table_funcs.get(index)
        if func is None:
            if self._table is None:
                return CallResult(
                    "error", None, f"{label}: the module exports no function table", 0
                )
            try:
                found = self._table.get(self.store, index)
            except (wasmtime.WasmtimeError, IndexError, TypeError):
                found = None
            if not isinstance(found, wasmtime.Func):
                return CallResult("error", None, f"{label}: not a function in the table", 0)
            func = self._table_funcs[index] = found
        return self._call(f"table[{index}]", func, args, nested)

    def reset_deadline(self) -> None:
        """Gives the guest a fresh CPU-time budget (`limits.timeout_ms`) from now."""
        ticks = self.runtime.ticker.deadline_ticks(self.limits.timeout_ms)
        if self._deadline is not None:
            self._deadline.set(ticks)
        else:
            self.store.set_epoch_deadline(ticks)

    def _call(
        self, export: str, func: wasmtime.Func, args: list[int], nested: bool = False
    ) -> CallResult:
        if not nested:
            self.reset_deadline()
        fast = self._guest_func(export, func)
        self._pending.exc = None
        start = time.perf_counter_ns()
        try:
            value = self._invoke(fast, func, args)
        except ProcExit as e:
            return _exited(e, start)
        except NestedCallFailed as e:
            return e.result
        except wasmtime.Trap as e:
            # A fast-path host function that raised parked its exception and trapped.
            return self._host_raised(export, start) or self._trap(e, start)
        except wasmtime.WasmtimeError as e:
            failed = self._host_raised(export, start)
            return failed or CallResult("error", None, f"{export}: {error_cause(e)}", _since(start))
        except Exception as e:  # a host bug must not escape to the caller of the guest
            log.exception("%s: host function failed", export)
            return CallResult("error", None, f"{export}: host error: {e}", _since(start))
        result = value if isinstance(value, int) else None
        return CallResult("ok", result, "", _since(start))

    def _invoke(self, fast: fastcall.GuestFunc | None, func: wasmtime.Func, args: list[int]) -> Any:
        if fast is not None:
            try:
                return fast(args)
            except fastcall.Unsupported:
                pass  # e.g. a wrong argument count: the public API words the error
        return func(self.store, *args)

    def _guest_func(self, export: str, func: wasmtime.Func) -> fastcall.GuestFunc | None:
        if not self.fast:
            return None
        try:
            return self._guest_funcs[export]
        except KeyError:
            pass
        try:
            fast: fastcall.GuestFunc | None = fastcall.GuestFunc(self.store, func)
        except fastcall.Unsupported:
            fast = None  # e.g. an i64 export: the public API handles it
        self._guest_funcs[export] = fast
        return fast

    def _host_raised(self, export: str, start: int) -> CallResult | None:
        exc = self._pending.take()
        if exc is None:
            return None
        if isinstance(exc, ProcExit):
            return _exited(exc, start)
        if isinstance(exc, NestedCallFailed):
            return exc.result
        if not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt and the like belong to the caller
        log.error("%s: host function failed", export, exc_info=exc)
        return CallResult("error", None, f"{export}: host error: {exc}", _since(start))

    def _trap(self, e: wasmtime.Trap, start: int) -> CallResult:
        elapsed = _since(start)
        if e.trap_code == wasmtime.TrapCode.INTERRUPT:
            limit = self.limits.timeout_ms
            return CallResult("timeout", None, f"timeout: call exceeded {limit} ms", elapsed)
        code = e.trap_code
        cause = code.name.lower().replace("_", " ") if code is not None else error_cause(e)
        return CallResult("trap", None, f"trap: {cause}", elapsed)

    def logs(self) -> bytes:
        return bytes(self.wasi_state.output)


def _check_provided(name: str, module: wasmtime.Module, provided: dict[str, object]) -> None:
    """Imports of deployment-scope modules (the EVP SDK) exist only inside a deployment."""
    table = load_table()
    for imp in module.imports:
        m = table.module(imp.module)
        if m is not None and m.scope == "deployment" and imp.module not in provided:
            raise GuestError(
                f"module {name}: import {imp.module}.{imp.name} (docs/abi.md section {m.doc}) "
                "is provided only to the instances of a deployment",
                hint="run it from a deployment manifest: run TARGET --deployment FILE",
            )


def _exited(e: ProcExit, start: int) -> CallResult:
    message = f"guest called proc_exit({e.code})"
    return CallResult("exit", None, message, _since(start), exit_code=e.code)


def _since(start_ns: int) -> int:
    return (time.perf_counter_ns() - start_ns) // 1000
