"""Low-overhead calls across the wasm boundary for integer-only signatures.

wasmtime-py's generic `Func.__call__` and host-function trampoline re-read the function type and
box every argument and result in `Val` objects, about 70 us per crossing on a loaded machine.
Every export and import of our ABI (docs/abi.md) takes and returns only i32 (WASI also i64), so
this module calls the C API's "unchecked" entry points directly: arguments and results travel as
`wasmtime_val_raw_t` slots packed with precompiled `struct` formats, pointers as plain ints.

This is an adapter to the private ctypes bindings (`wasmtime._ffi`) of the pinned wasmtime-py
release (PINNED_VERSION). `available()` refuses any other release, and the runtime then keeps the
public API, so a version bump degrades speed, not correctness.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import logging
import struct
from collections.abc import Callable
from typing import Any

import wasmtime

log = logging.getLogger(__name__)

PINNED_VERSION = "50.0.1"

# (env, caller, args_and_results, count) -> wasm_trap_t* or 0; pointers as ints, not ctypes
# pointer objects, which would cost an allocation each per call.
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t
)
_VP = ctypes.c_void_p
_SIZE = ctypes.c_size_t

# Kind letters as in the ABI table (abi.VALUE_TYPES): "i" i32 (read unsigned, as the host
# functions expect), "I" i64 (signed); results are written as u32.
_FORMATS = {"i": "I", "I": "q"}


class Unsupported(Exception):
    """This signature or call cannot take the fast path; use the public API."""


@functools.cache
def available() -> bool:
    """True when the installed wasmtime-py is the release this adapter was written against."""
    try:
        version = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    if version != PINNED_VERSION:
        log.warning(
            "wasmtime %s is not the pinned %s: using the slower public call API",
            version,
            PINNED_VERSION,
        )
        return False
    try:
        _Lib.get()
    except (ImportError, AttributeError) as e:
        log.warning("wasmtime low-level bindings unusable (%s): using the public call API", e)
        return False
    return True


class _Lib:
    """Private function objects over the shared library with int-typed signatures.

    `dll[name]` returns a new function object each time, so setting argtypes here does not
    change the objects wasmtime-py itself uses.
    """

    _instance: _Lib | None = None

    def __init__(self) -> None:
        from wasmtime import _ffi as ffi

        self.ffi: Any = ffi
        self.slot = ctypes.sizeof(ffi.wasmtime_val_raw_t)
        dll = ffi.dll
        self.call = _fn(dll, "wasmtime_func_call_unchecked", _VP, [_VP, _VP, _VP, _SIZE, _VP])
        self.define = _fn(
            dll,
            "wasmtime_linker_define_func_unchecked",
            _VP,
            [_VP, ctypes.c_char_p, _SIZE, ctypes.c_char_p, _SIZE, _VP, _CALLBACK, _VP, _VP],
        )
        # Accessors that return at once are called holding the GIL: releasing it around a
        # call of nanoseconds costs a GIL hand-off (tens of us) when other threads run guests.
        quick = ctypes.PyDLL(dll._name, handle=dll._handle)
        self.caller_context = _fn(quick, "wasmtime_caller_context", _VP, [_VP])
        self.memory_data = _fn(quick, "wasmtime_memory_data", _VP, [_VP, _VP])
        self.memory_size = _fn(quick, "wasmtime_memory_data_size", _SIZE, [_VP, _VP])
        self.trap_new = _fn(dll, "wasmtime_trap_new", _VP, [ctypes.c_char_p, _SIZE])
        self.set_deadline = _fn(
            quick, "wasmtime_context_set_epoch_deadline", None, [_VP, ctypes.c_uint64]
        )

    @classmethod
    def get(cls) -> _Lib:
        if cls._instance is None:
            cls._instance = _Lib()
        return cls._instance

    def trap(self, address: int) -> wasmtime.Trap:
        """Takes ownership of a `wasm_trap_t*` as wasmtime-py's own `Trap`."""
        return wasmtime.Trap._from_ptr(ctypes.cast(address, ctypes.POINTER(self.ffi.wasm_trap_t)))

    def error(self, address: int) -> wasmtime.WasmtimeError:
        ptr = ctypes.cast(address, ctypes.POINTER(self.ffi.wasmtime_error_t))
        return wasmtime.WasmtimeError._from_ptr(ptr)


def _fn(dll: ctypes.CDLL, name: str, restype: Any, argtypes: list[Any]) -> Any:
    f = dll[name]
    f.restype = restype
    f.argtypes = argtypes
    return f


def _slots(kinds: str, slot: int) -> struct.Struct:
    """Packs one value per `wasmtime_val_raw_t` slot (little-endian, rest of the slot zero)."""
    parts = []
    for k in kinds:
        fmt = _FORMATS[k]
        parts.append(f"{fmt}{slot - struct.calcsize(fmt)}x")
    return struct.Struct("<" + "".join(parts))


def _address(ptr: Any) -> int:
    return ctypes.cast(ptr, ctypes.c_void_p).value or 0


class Pending:
    """The exception a host function raised during the current guest call of one store.

    It cannot unwind through the engine: the callback parks it here and returns a trap; the
    caller of the guest picks it up with `take()` once the call returns.
    """

    __slots__ = ("exc",)

    def __init__(self) -> None:
        self.exc: BaseException | None = None

    def take(self) -> BaseException | None:
        exc, self.exc = self.exc, None
        return exc


HostHandler = Callable[[int, tuple[int, ...]], "int | None"]


class HostFuncs:
    """Defines host functions in one linker; keeps their callbacks alive as long as itself.

    The owner (one `HostInstance`) must keep this object at least as long as the store that the
    linker instantiates into: the engine calls the C callbacks by address.
    """

    def __init__(self, linker: wasmtime.Linker, pending: Pending) -> None:
        self._lib = _Lib.get()
        self._linker = _address(linker.ptr())
        self._pending = pending
        self._keep: list[Any] = []

    def define(
        self, module: str, name: str, params: str, has_result: bool, handler: HostHandler
    ) -> None:
        """`handler(caller_address, args)` gets i32 args unsigned, i64 args signed."""
        lib = self._lib
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        ty = wasmtime.FuncType(
            [i64 if p == "I" else i32 for p in params], [i32] if has_result else []
        )
        callback = _CALLBACK(self._callback(handler, params, has_result))
        m, n = module.encode(), name.encode()
        error = lib.define(self._linker, m, len(m), n, len(n), _address(ty.ptr()), callback, 0, 0)
        if error:
            raise lib.error(error)
        self._keep.append(callback)

    def _callback(
        self, handler: HostHandler, params: str, has_result: bool
    ) -> Callable[[int | None, int, int, int], int]:
        unpack = _slots(params, self._lib.slot).unpack
        nbytes = len(params) * self._lib.slot
        string_at = ctypes.string_at
        result_at = ctypes.c_uint32.from_address
        pending = self._pending
        trap_new = self._lib.trap_new

        def callback(_env: int | None, caller: int, slots: int, _count: int) -> int:
            # Must never raise: ctypes would print the error and return 0, i.e. "no trap".
            try:
                args = unpack(string_at(slots, nbytes)) if nbytes else ()
                result = handler(caller, args)
                if has_result:
                    result_at(slots).value = result  # type: ignore[assignment]
                return 0
            except BaseException as e:
                pending.exc = e
                message = b"host function raised " + type(e).__name__.encode()
                return int(trap_new(message, len(message)) or 0)

        return callback


class GuestFunc:
    """One export with i32 parameters and at most one i32 result, called without `Val` boxing.

    Raises what `wasmtime.Func.__call__` raises (`Trap`, `WasmtimeError`), so callers handle both
    paths alike; `Unsupported` for arguments the slots cannot carry.
    """

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        i32 = wasmtime.ValType.i32()
        if len(ty.results) > 1 or any(t != i32 for t in [*ty.params, *ty.results]):
            raise Unsupported("export signature is not i32-only")
        lib = _Lib.get()
        self._lib = lib
        self.nparams = len(ty.params)
        self._has_result = bool(ty.results)
        # The C API reads params from and writes results to the same slots: the length it is
        # given must cover both (too short makes wasmtime panic, i.e. abort the process).
        self._count = max(self.nparams, len(ty.results))
        self._buf = (lib.ffi.wasmtime_val_raw_t * max(self._count, 1))()
        self._buf_addr = ctypes.addressof(self._buf)
        self._pack_into = _slots("i" * self.nparams, lib.slot).pack_into
        self._func = func  # keeps the wasmtime_func_t it points to alive
        self._func_addr = ctypes.addressof(func._func)
        self._ctx = _address(store._context())
        self._trap = ctypes.c_void_p()
        self._trap_addr = ctypes.addressof(self._trap)
        self._result = ctypes.c_int32.from_buffer(self._buf)

    def __call__(self, args: list[int]) -> int | None:
        if len(args) != self.nparams:
            raise Unsupported("argument count")  # the public API words the error
        try:
            self._pack_into(self._buf, 0, *[a & 0xFFFFFFFF for a in args])
        except (struct.error, TypeError) as e:
            raise Unsupported(str(e)) from e
        lib = self._lib
        error = lib.call(self._ctx, self._func_addr, self._buf_addr, self._count, self._trap_addr)
        trap = self._trap.value
        if trap:
            self._trap.value = None
            if error:
                lib.error(error)  # freed with the wrapper; the trap says more
            raise lib.trap(trap)
        if error:
            raise lib.error(error)
        return self._result.value if self._has_result else None


class RawMemory:
    """Base address and size of one exported memory, read in one C call per host call."""

    def __init__(self, store: wasmtime.Store, memory: wasmtime.Memory) -> None:
        self._lib = _Lib.get()
        self._memory = memory
        self._addr = ctypes.addressof(memory._memory)
        self._store_ctx = _address(store._context())
        self._ctx = 0  # the caller's context once it proved to be the store's
        self._base = 0
        self._size = -1

    def locate(self, caller: int) -> tuple[int, int]:
        lib = self._lib
        ctx = self._ctx
        if not ctx:
            # In this release a caller's context is its store's; checked rather than assumed.
            ctx = lib.caller_context(caller)
            if ctx == self._store_ctx:
                self._ctx = ctx
        return self._locate(ctx)

    def locate_in_store(self) -> tuple[int, int]:
        """`locate` outside a host call's arguments, e.g. after a nested guest call (malloc)
        may have grown the memory."""
        return self._locate(self._store_ctx)

    def _locate(self, ctx: int) -> tuple[int, int]:
        lib = self._lib
        size = lib.memory_size(ctx, self._addr)
        if size != self._size:
            # Linear memory never shrinks and moves only when it grows, so the base address
            # needs re-reading only when the size changed.
            self._base = lib.memory_data(ctx, self._addr) or 0
            self._size = size
        return self._base, size


class EpochDeadline:
    """`Store.set_epoch_deadline` without the wrapper layers (it runs before every call)."""

    def __init__(self, store: wasmtime.Store) -> None:
        self._set = _Lib.get().set_deadline
        self._ctx = _address(store._context())

    def set(self, ticks: int) -> None:
        self._set(self._ctx, ticks)


def caller_object(caller: int) -> wasmtime.Caller:
    """A public `Caller` over a raw caller pointer, for the rare export lookups by name; the
    caller must `_invalidate()` it before the host function returns."""
    ffi = _Lib.get().ffi
    return wasmtime.Caller(ctypes.cast(caller, ctypes.POINTER(ffi.wasmtime_caller_t)))
