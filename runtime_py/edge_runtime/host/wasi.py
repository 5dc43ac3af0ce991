"""The `wasi_snapshot_preview1` subset of docs/abi.md section 4, for one instance.

fds 1 and 2 are captured into per-instance buffers. Arguments and environment are the
instance's (`run --env KEY=VALUE ... -- ARGS`; empty unless given). The only files are those
under the instance's pre-opened directories (an EVP deployment instance's workspace): fds 3..
are the pre-opens, then the files opened under them; paths may not leave a pre-opened
directory (`..`, absolute paths, symbolic links pointing out are ENOTCAPABLE).
Functions return WASI errno values; bad pointers are EFAULT, never a host exception.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .memory import GuestMemory, OutOfBounds

log = logging.getLogger(__name__)

ESUCCESS, EBADF, EFAULT, EINVAL, ESPIPE = 0, 8, 21, 28, 70
EACCES, EEXIST, EIO, EISDIR, ELOOP, ENAMETOOLONG = 2, 20, 29, 31, 32, 37
ENOENT, ENOSPC, ENOTDIR, ENOTSUP, ENOTCAPABLE = 44, 51, 54, 58, 76
FILETYPE_CHARACTER_DEVICE, FILETYPE_DIRECTORY, FILETYPE_REGULAR_FILE = 2, 3, 4
OFLAG_CREAT, OFLAG_DIRECTORY, OFLAG_EXCL, OFLAG_TRUNC = 1, 2, 4, 8
FDFLAG_APPEND = 1
RIGHT_FD_READ, RIGHT_FD_WRITE = 1 << 1, 1 << 6
FIRST_FILE_FD = 3
_ERRNO = {
    errno.EACCES: EACCES,
    errno.EPERM: EACCES,
    errno.EEXIST: EEXIST,
    errno.EISDIR: EISDIR,
    errno.ELOOP: ELOOP,
    errno.ENAMETOOLONG: ENAMETOOLONG,
    errno.ENOENT: ENOENT,
    errno.ENOSPC: ENOSPC,
    errno.ENOTDIR: ENOTDIR,
}
RIGHTS_ALL = (1 << 30) - 1  # every right preview1 defines (bits 0..29)
CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1
MAX_LOG_BYTES = 1 << 20  # a chatty guest cannot eat the host's memory


@dataclass
class _File:
    host_fd: int
    append: bool


def _close_files(files: dict[int, _File]) -> None:
    for f in files.values():
        os.close(f.host_fd)
    files.clear()


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
    # (guest path, host directory) pairs: fds 3, 4, ... in this order
    preopens: tuple[tuple[str, Path], ...] = ()
    files: dict[int, _File] = field(default_factory=dict)  # open files by guest fd

    def __post_init__(self) -> None:
        weakref.finalize(self, _close_files, self.files)  # when the instance goes

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

    def _preopen(self, fd: int) -> tuple[str, Path] | None:
        k = fd - FIRST_FILE_FD
        return self.state.preopens[k] if 0 <= k < len(self.state.preopens) else None

    @_efault
    def fd_write(self, mem: GuestMemory, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
        f = self.state.files.get(fd)
        if fd not in (1, 2) and f is None:
            return EBADF
        chunks = [mem.view(p, n).tobytes() for p, n in _iovecs(mem, iovs, iovs_len)]
        mem.check(nwritten, 4)
        data = b"".join(chunks)
        if f is None:
            self.state.append(fd, data)
        else:
            try:
                if f.append:
                    os.lseek(f.host_fd, 0, os.SEEK_END)
                os.write(f.host_fd, data)
            except OSError as e:
                return _ERRNO.get(e.errno or 0, EIO)
        mem.write_u32(nwritten, len(data))
        return ESUCCESS

    @_efault
    def fd_read(self, mem: GuestMemory, fd: int, iovs: int, iovs_len: int, nread: int) -> int:
        f = self.state.files.get(fd)
        if fd != 0 and f is None:
            return EBADF
        vecs = _iovecs(mem, iovs, iovs_len)
        for p, n in vecs:
            mem.check(p, n)
        mem.check(nread, 4)
        if f is None:
            mem.write_u32(nread, 0)  # stdin is always at end of file
            return ESUCCESS
        try:
            data = os.read(f.host_fd, sum(n for _, n in vecs))
        except OSError as e:
            return _ERRNO.get(e.errno or 0, EIO)
        done = 0
        for p, n in vecs:
            part = data[done : done + n]
            if part:
                mem.write(p, part)
            done += len(part)
        mem.write_u32(nread, len(data))
        return ESUCCESS

    def fd_close(self, mem: GuestMemory, fd: int) -> int:
        f = self.state.files.pop(fd, None)
        if f is not None:
            os.close(f.host_fd)
            return ESUCCESS
        return ESUCCESS if 0 <= fd <= 2 or self._preopen(fd) else EBADF

    @_efault
    def fd_seek(self, mem: GuestMemory, fd: int, offset: int, whence: int, newoffset: int) -> int:
        f = self.state.files.get(fd)
        if f is None:
            return ESPIPE if 0 <= fd <= 2 or self._preopen(fd) else EBADF
        if whence not in (0, 1, 2):  # SET, CUR, END: the POSIX values
            return EINVAL
        mem.check(newoffset, 4)
        try:
            pos = os.lseek(f.host_fd, offset, whence)
        except OSError as e:
            return EINVAL if e.errno == errno.EINVAL else _ERRNO.get(e.errno or 0, EIO)
        mem.write_u64(newoffset, pos)
        return ESUCCESS

    @_efault
    def fd_fdstat_get(self, mem: GuestMemory, fd: int, stat: int) -> int:
        f = self.state.files.get(fd)
        if f is not None:
            filetype, flags = FILETYPE_REGULAR_FILE, FDFLAG_APPEND if f.append else 0
        elif self._preopen(fd):
            filetype, flags = FILETYPE_DIRECTORY, 0
        elif 0 <= fd <= 2:
            filetype, flags = FILETYPE_CHARACTER_DEVICE, 0
        else:
            return EBADF
        mem.check(stat, 24)
        mem.write(stat, bytes(24))
        mem.write(stat, bytes([filetype, 0, flags, 0]))
        mem.write_u64(stat + 8, RIGHTS_ALL)
        mem.write_u64(stat + 16, RIGHTS_ALL)
        return ESUCCESS

    def fd_fdstat_set_flags(self, mem: GuestMemory, fd: int, flags: int) -> int:
        f = self.state.files.get(fd)
        if f is None:
            return EBADF
        if flags & ~FDFLAG_APPEND:
            return ENOTSUP  # only append can change
        f.append = bool(flags & FDFLAG_APPEND)
        return ESUCCESS

    # -- pre-opened directories (the EVP workspace) -----------------------------------------

    @_efault
    def fd_prestat_get(self, mem: GuestMemory, fd: int, prestat: int) -> int:
        pre = self._preopen(fd)
        if pre is None:
            return EBADF
        mem.check(prestat, 8)
        mem.write(prestat, bytes(8))  # tag 0: a directory
        mem.write_u32(prestat + 4, len(pre[0].encode()))
        return ESUCCESS

    @_efault
    def fd_prestat_dir_name(self, mem: GuestMemory, fd: int, path: int, path_len: int) -> int:
        pre = self._preopen(fd)
        if pre is None:
            return EBADF
        name = pre[0].encode()
        if path_len < len(name):
            return ENAMETOOLONG
        mem.check(path, len(name))
        mem.write(path, name)
        return ESUCCESS

    @_efault
    def path_open(
        self,
        mem: GuestMemory,
        fd: int,
        dirflags: int,
        path: int,
        path_len: int,
        oflags: int,
        rights_base: int,
        rights_inheriting: int,
        fdflags: int,
        fd_out: int,
    ) -> int:
        pre = self._preopen(fd)
        if pre is None:
            return ENOTDIR if fd in self.state.files else EBADF
        mem.check(fd_out, 4)
        try:
            rel = mem.view(path, path_len).tobytes().decode()
        except UnicodeDecodeError:
            return EINVAL
        if oflags & OFLAG_DIRECTORY:
            return ENOTSUP  # no directory handles beyond the pre-opened ones
        root = pre[1].resolve()
        target = root / rel
        parts = Path(rel).parts
        if not rel or rel.startswith("/") or ".." in parts:
            return ENOTCAPABLE
        try:
            if not target.resolve().is_relative_to(root):  # a link pointing out
                return ENOTCAPABLE
        except OSError:
            return ENOTCAPABLE
        read, write = bool(rights_base & RIGHT_FD_READ), bool(rights_base & RIGHT_FD_WRITE)
        flags = os.O_RDWR if read and write else os.O_WRONLY if write else os.O_RDONLY
        flags |= os.O_CREAT if oflags & OFLAG_CREAT else 0
        flags |= os.O_EXCL if oflags & OFLAG_EXCL else 0
        flags |= os.O_TRUNC if oflags & OFLAG_TRUNC else 0
        try:
            host_fd = os.open(target, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            return _ERRNO.get(e.errno or 0, EIO)
        new = FIRST_FILE_FD + len(self.state.preopens)
        while new in self.state.files:
            new += 1
        self.state.files[new] = _File(host_fd, bool(fdflags & FDFLAG_APPEND))
        mem.write_u32(fd_out, new)
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
