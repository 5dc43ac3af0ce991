"""The Pi host's pre-opened directories (docs/abi.md section 4), function by function: what a
guest can open under its directory and what it cannot (the escape routes are ENOTCAPABLE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_runtime.host import wasi
from edge_runtime.host.memory import GuestMemory
from edge_runtime.host.wasi import Wasi, WasiState

READ, WRITE = wasi.RIGHT_FD_READ, wasi.RIGHT_FD_WRITE
PATH, OUT, IOV, BUF = 0, 200, 300, 400


@pytest.fixture
def env(tmp_path: Path) -> tuple[Wasi, GuestMemory, Path]:
    root = tmp_path / "ws"
    root.mkdir()
    return (
        Wasi(WasiState(preopens=(("/workspace/a", root),))),
        GuestMemory(np.zeros(4096, np.uint8)),
        root,
    )


def open_(
    w: Wasi, mem: GuestMemory, rel: str, oflags: int = 0, rights: int = READ, fd: int = 3
) -> int:
    raw = rel.encode()
    mem.write(PATH, raw)
    return w.path_open(mem, fd, 0, PATH, len(raw), oflags, rights, rights, 0, OUT)


def test_prestat_names_the_guest_path(env: tuple[Wasi, GuestMemory, Path]) -> None:
    w, mem, _ = env
    assert w.fd_prestat_get(mem, 3, 0) == wasi.ESUCCESS and mem.u32(4) == len("/workspace/a")
    assert w.fd_prestat_dir_name(mem, 3, 16, 12) == wasi.ESUCCESS
    assert mem.view(16, 12).tobytes() == b"/workspace/a"
    assert w.fd_prestat_dir_name(mem, 3, 16, 11) == wasi.ENAMETOOLONG
    assert w.fd_prestat_get(mem, 4, 0) == wasi.EBADF  # the end of the pre-opens
    assert w.fd_fdstat_get(mem, 3, 32) == wasi.ESUCCESS and mem.view(32, 1)[0] == 3  # directory


def test_write_seek_read_close(env: tuple[Wasi, GuestMemory, Path]) -> None:
    w, mem, root = env
    assert open_(w, mem, "f.txt", wasi.OFLAG_CREAT, READ | WRITE) == wasi.ESUCCESS
    fd = mem.u32(OUT)
    assert fd == 4
    mem.write(BUF, b"hello")
    mem.write_u32(IOV, BUF)
    mem.write_u32(IOV + 4, 5)
    assert w.fd_write(mem, fd, IOV, 1, 8) == wasi.ESUCCESS and mem.u32(8) == 5
    assert (root / "f.txt").read_bytes() == b"hello"
    assert w.fd_seek(mem, fd, 1, 0, 8) == wasi.ESUCCESS and mem.u32(8) == 1
    mem.write_u32(IOV + 4, 10)
    assert w.fd_read(mem, fd, IOV, 1, 8) == wasi.ESUCCESS and mem.u32(8) == 4
    assert mem.view(BUF, 4).tobytes() == b"ello"
    assert w.fd_fdstat_get(mem, fd, 32) == wasi.ESUCCESS and mem.view(32, 1)[0] == 4  # file
    assert w.fd_close(mem, fd) == wasi.ESUCCESS
    assert w.fd_read(mem, fd, IOV, 1, 8) == wasi.EBADF


@pytest.mark.parametrize(
    ("rel", "oflags", "errno"),
    [
        ("../x", wasi.OFLAG_CREAT, wasi.ENOTCAPABLE),
        ("/etc/passwd", 0, wasi.ENOTCAPABLE),
        ("sub/../../x", wasi.OFLAG_CREAT, wasi.ENOTCAPABLE),
        ("link/x", wasi.OFLAG_CREAT, wasi.ENOTCAPABLE),  # a symbolic link pointing out
        ("missing.txt", 0, wasi.ENOENT),
        ("there.txt", wasi.OFLAG_CREAT | wasi.OFLAG_EXCL, wasi.EEXIST),
        ("there.txt", wasi.OFLAG_DIRECTORY, wasi.ENOTSUP),
    ],
)
def test_what_cannot_be_opened(
    env: tuple[Wasi, GuestMemory, Path], rel: str, oflags: int, errno: int
) -> None:
    w, mem, root = env
    (root / "there.txt").write_text("x")
    (root / "link").symlink_to(root.parent)
    assert open_(w, mem, rel, oflags, READ | WRITE) == errno
    assert not (root.parent / "x").exists()


def test_only_pre_opened_directories_open_paths(env: tuple[Wasi, GuestMemory, Path]) -> None:
    w, mem, root = env
    (root / "f").write_text("x")
    assert open_(w, mem, "f", fd=1) == wasi.EBADF
    assert open_(w, mem, "f") == wasi.ESUCCESS
    assert open_(w, mem, "f", fd=mem.u32(OUT)) == wasi.ENOTDIR  # a file is no directory
    assert Wasi(WasiState()).fd_prestat_get(mem, 3, 0) == wasi.EBADF  # no pre-opens at all
