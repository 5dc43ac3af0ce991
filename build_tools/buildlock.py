"""Builds of one target by several processes at once: a per-target lock and atomic writes.

`target_lock(directory)` holds an exclusive `flock` on `directory/.build.lock` while a build of
that target runs, so a second process (four `run host ...` started together) waits and then
finds everything up to date instead of overwriting half-written files. The lock is reentrant
within a process (the runtime build builds the guests under the same lock). Outputs are still
written to unique temporary names and renamed into place (`atomic_write`), so a reader that
does not take the lock never sees a partial file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

LOCK_NAME = ".build.lock"

P = ParamSpec("P")
R = TypeVar("R")


class _Held:
    """Locks this process holds: path -> (open file, depth). One registry per process is what
    flock needs (a second open of the same file in this process would wait for itself)."""

    def __init__(self) -> None:
        self.guard = threading.RLock()
        self.files: dict[Path, tuple[int, int]] = {}


_HELD = _Held()


@contextlib.contextmanager
def target_lock(directory: Path) -> Iterator[None]:
    """Exclusive lock on `directory` (created if missing) for the duration of the block."""
    directory.mkdir(parents=True, exist_ok=True)
    path = (directory / LOCK_NAME).resolve()
    with _HELD.guard:
        held = _HELD.files.get(path)
        if held is not None:
            _HELD.files[path] = (held[0], held[1] + 1)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            start = time.monotonic()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another build of %s", directory)
                fcntl.flock(fd, fcntl.LOCK_EX)
                log.info("waited %.1f s for %s", time.monotonic() - start, directory)
            _HELD.files[path] = (fd, 1)
        try:
            yield
        finally:
            fd, depth = _HELD.files[path]
            if depth > 1:
                _HELD.files[path] = (fd, depth - 1)
            else:
                del _HELD.files[path]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def locked_build(directory_of: Callable[..., Path]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: run the build function under `target_lock(directory_of(*its arguments))`."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            with target_lock(directory_of(*args, **kwargs)):
                return fn(*args, **kwargs)

        locked.__name__ = fn.__name__
        locked.__qualname__ = fn.__qualname__
        locked.__doc__ = fn.__doc__
        return locked

    return wrap


def atomic_write(path: Path, data: bytes) -> None:
    """Writes `data` to a unique temporary file beside `path`, then renames it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
