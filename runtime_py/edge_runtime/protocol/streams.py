"""Byte streams that look like a minimal pyserial ``Serial``: read(n) with a timeout, write, close.

``ProcessStream`` talks to a child process over its stdin/stdout pipes (the POSIX runtime, the
test device); ``open_url`` opens anything pyserial can (``socket://127.0.0.1:PORT`` for QEMU's
TCP serial port, ``/dev/ttyUSB0`` for a board).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol, cast

import serial

from edge_runtime.errors import DeviceError

log = logging.getLogger(__name__)


class ByteStream(Protocol):
    """What DeviceClient needs from a transport (a subset of pyserial's Serial)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    @property
    def in_waiting(self) -> int: ...

    def close(self) -> None: ...


class ProcessStream:
    """A child process's stdin/stdout as a serial-like stream; its stderr goes to a log file."""

    def __init__(
        self,
        argv: list[str],
        *,
        stderr_log: Path | None = None,
        cwd: Path | None = None,
        timeout: float | None = 1.0,
    ) -> None:
        log.debug("starting %s (cwd %s)", argv, cwd)
        self.argv = argv
        self.timeout = timeout
        self.stderr_log = stderr_log
        self._buf = bytearray()
        self._stderr_chunks: list[bytes] = []
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            bufsize=0,
        )
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        self._stdin = self._proc.stdin
        self._stdout_fd = self._proc.stdout.fileno()
        os.set_blocking(self._stdout_fd, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._stdout_fd, selectors.EVENT_READ)
        self._eof = False
        self._closed = False
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name=f"stderr-{self._proc.pid}", daemon=True
        )
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        """The exit code, or None while the process runs."""
        return self._proc.poll()

    def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        sink = self.stderr_log.open("ab") if self.stderr_log else None
        try:
            for chunk in iter(lambda: stream.read(4096), b""):
                self._stderr_chunks.append(chunk)
                if sink:
                    sink.write(chunk)
                    sink.flush()
        except (OSError, ValueError):  # pipe closed under us during close()
            pass
        finally:
            if sink:
                sink.close()

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to timeout for the process to end (and its stderr to be drained)."""
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._stderr_thread.join(timeout=timeout)
        return code

    def stderr_text(self) -> str:
        return b"".join(self._stderr_chunks).decode("utf-8", "replace")

    def _fill(self, wait: float) -> None:
        """Move whatever stdout has into the buffer, waiting up to `wait` seconds for it."""
        if self._eof:
            return
        if not self._sel.select(max(wait, 0.0)):
            return
        try:
            chunk = os.read(self._stdout_fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._eof = True
        self._buf += chunk

    @property
    def in_waiting(self) -> int:
        if self._closed:
            raise OSError(f"stream to pid {self.pid} is closed")
        self._fill(0.0)
        return len(self._buf)

    def read(self, size: int = 1) -> bytes:
        """Up to size bytes: returns early only when size bytes arrived, timeout or EOF."""
        if self._closed:
            raise OSError(f"stream to pid {self.pid} is closed")
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        self._fill(0.0)  # even with timeout 0, take what has already arrived
        while len(self._buf) < size and not self._eof:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        if not self._buf and self._eof:
            raise OSError(f"pid {self.pid} closed its output (exit code {self._proc.poll()})")
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def write(self, data: bytes) -> int:
        if self._closed:
            raise OSError(f"stream to pid {self.pid} is closed")
        self._stdin.write(data)  # BrokenPipeError (an OSError) when the process has died
        self._stdin.flush()
        return len(data)

    def close(self, wait: float = 5.0) -> None:
        """Close stdin (the device sees the link close), then wait; kill if it does not exit."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):  # BrokenPipeError when the process already died
            self._stdin.close()
        if self._proc.poll() is None:
            try:
                self._proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not exit after %.1f s: killing it", self._proc.pid, wait)
                self._proc.kill()
                self._proc.wait()
        self._stderr_thread.join(timeout=wait)
        self._sel.close()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe:
                pipe.close()

    def __enter__(self) -> ProcessStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_url(url: str, *, baudrate: int = 115200, timeout: float = 1.0) -> ByteStream:
    """Open a pyserial URL or device path: socket://HOST:PORT, /dev/ttyUSB0, loop://, ...

    Raises DeviceError when it cannot be opened (no such port, nothing listening)."""
    log.debug("opening serial %s at %d baud", url, baudrate)
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout)
    except (serial.SerialException, ValueError) as e:
        raise DeviceError(f"cannot open {url}: {e}") from e
    # Every concrete pyserial class has in_waiting; the SerialBase stub does not declare it.
    return cast(ByteStream, port)
