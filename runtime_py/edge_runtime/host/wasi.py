"""The `wasi_snapshot_preview1` subset of docs/abi.md section 4, for one instance.

No filesystem; fds 1 and 2 are captured into per-instance buffers. Arguments and environment
are the instance's (`run --env KEY=VALUE ... -- ARGS`; empty unless given).
Functions return WASI errno values; bad pointers are EFAULT, never a host exception.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .memory import GuestMemory, OutOfBounds

log = logging.getLogger(__name__)

ESUCCESS, EBADF, EFAULT, EINVAL, ESPIPE = 0, 8, 21, 28, 70
FILETYPE_CHARACTER_DEVICE = 2
RIGHTS_ALL = (1 << 30) - 1  # every right preview1 defines (bits 0..29)
CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1
MAX_LOG_BYTES = 1 << 20  # a chatty guest cannot eat the host's memory


class ProcExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"proc_exit({code})")
        self.code = code


@dataclass
class WasiState:
    output: bytearray = field(default_factory=bytearray)  # fd 1 and 2 interleaved, as written
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    dropped: int = 0
    args: tuple[bytes, ...] = ()  # argv, argv[0] included; no NUL inside an entry
    environ: tuple[bytes, ...] = ()  # b"KEY=VALUE" entries

    def append(self, fd: int, data: bytes) -> None:
        room = MAX_LOG_BYTES - len(self.output)
        if room < len(data):
            self.dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self.output += data
        (self.stdout if fd == 1 else self.stderr).extend(data)


def _efault(fn: Callable[..., int]) -> Callable[..., int]:
    @functools.wraps(fn)
    def wrapped(*args: int) -> int:
        try:
            return fn(*args)
        except OutOfBounds as e:
            log.info("wasi %s -> EFAULT: %s", fn.__name__, e)
            return EFAULT

    return wrapped


def _iovecs(mem: GuestMemory, iovs: int, count: int) -> list[tuple[int, int]]:
    words = mem.u32s(iovs, 2 * count)
    return [(int(words[2 * i]), int(words[2 * i + 1])) for i in range(count)]


def _sizes(mem: GuestMemory, items: tuple[bytes, ...], count_ptr: int, size_ptr: int) -> int:
    mem.check(count_ptr, 4)
    mem.check(size_ptr, 4)
    mem.write_u32(count_ptr, len(items))
    mem.write_u32(size_ptr, sum(len(i) + 1 for i in items))
    return ESUCCESS


def _strings(mem: GuestMemory, items: tuple[bytes, ...], ptrs: int, buf: int) -> int:
    """WASI's layout: `ptrs` gets one u32 pointer per item into `buf`, which gets the items
    NUL-terminated, back to back. Both ranges are checked before anything is written."""
    blob = b"".join(i + b"\0" for i in items)
    mem.check(ptrs, 4 * len(items))
    mem.check(buf, len(blob))
    offset = buf
    for k, item in enumerate(items):
        mem.write_u32(ptrs + 4 * k, offset)
        offset += len(item) + 1
    if blob:
        mem.write(buf, blob)
    return ESUCCESS


class Wasi:
    def __init__(self, state: WasiState) -> None:
        self.state = state

    @_efault
    def fd_write(self, mem: GuestMemory, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
        if fd not in (1, 2):
            return EBADF
        chunks = [mem.view(p, n).tobytes() for p, n in _iovecs(mem, iovs, iovs_len)]
        mem.check(nwritten, 4)
        data = b"".join(chunks)
        self.state.append(fd, data)
        mem.write_u32(nwritten, len(data))
        return ESUCCESS

    @_efault
    def fd_read(self, mem: GuestMemory, fd: int, iovs: int, iovs_len: int, nread: int) -> int:
        if fd != 0:
            return EBADF
        _iovecs(mem, iovs, iovs_len)
        mem.write_u32(nread, 0)  # stdin is always at end of file
        return ESUCCESS

    def fd_close(self, mem: GuestMemory, fd: int) -> int:
        return ESUCCESS if 0 <= fd <= 2 else EBADF

    def fd_seek(self, mem: GuestMemory, fd: int, offset: int, whence: int, newoffset: int) -> int:
        return ESPIPE if 0 <= fd <= 2 else EBADF

    @_efault
    def fd_fdstat_get(self, mem: GuestMemory, fd: int, stat: int) -> int:
        if not 0 <= fd <= 2:
            return EBADF
        mem.check(stat, 24)
        mem.write(stat, bytes(24))
        mem.write(stat, bytes([FILETYPE_CHARACTER_DEVICE]))
        mem.write_u64(stat + 8, RIGHTS_ALL)
        mem.write_u64(stat + 16, RIGHTS_ALL)
        return ESUCCESS

    def proc_exit(self, mem: GuestMemory, code: int) -> None:
        raise ProcExit(code)

    @_efault
    def args_sizes_get(self, mem: GuestMemory, argc: int, buf_size: int) -> int:
        return _sizes(mem, self.state.args, argc, buf_size)

    @_efault
    def args_get(self, mem: GuestMemory, argv: int, buf: int) -> int:
        return _strings(mem, self.state.args, argv, buf)

    @_efault
    def environ_sizes_get(self, mem: GuestMemory, environc: int, buf_size: int) -> int:
        return _sizes(mem, self.state.environ, environc, buf_size)

    @_efault
    def environ_get(self, mem: GuestMemory, environ: int, buf: int) -> int:
        return _strings(mem, self.state.environ, environ, buf)

    @_efault
    def clock_time_get(self, mem: GuestMemory, clock: int, precision: int, out: int) -> int:
        if clock == CLOCK_REALTIME:
            now = time.time_ns()
        elif clock == CLOCK_MONOTONIC:
            now = time.monotonic_ns()
        else:
            return EINVAL
        mem.write_u64(out, now)
        return ESUCCESS

    @_efault
    def random_get(self, mem: GuestMemory, buf: int, n: int) -> int:
        mem.check(buf, n)
        mem.write(buf, os.urandom(n))
        return ESUCCESS

    def sched_yield(self, mem: GuestMemory) -> int:
        return ESUCCESS
