"""One QEMU process with its serial line: start on a free loopback port, connect, tear down.

Teardown runs on every exit path (normal, exception, KeyboardInterrupt): close the socket, then
terminate the QEMU process by its PID and wait for it; kill it if it does not go. No QEMU
outlives its session.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from pathlib import Path
from types import TracebackType

import serial

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.streams import ByteStream, open_url

from ..toolchains import qemu

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class QemuSession:
    """Context manager: `with QemuSession(elf, name, log_path) as s: s.url, s.stream`."""

    def __init__(
        self,
        firmware: Path,
        device_name: str,
        log_path: Path,
        *,
        icount_shift: int | None = None,
        baudrate: int = 115200,
        connect: bool = True,
    ) -> None:
        self.firmware = firmware
        self.device_name = device_name
        self.log_path = log_path
        self.icount_shift = icount_shift
        self.baudrate = baudrate
        self.connect_stream = connect
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.stream: ByteStream | None = None
        self._returncode: int | None = None  # of the last process, after it was stopped

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.firmware.exists():
            raise DeviceError(
                f"device {self.device_name!r}: no firmware at {self.firmware}",
                hint=f"run: python -m build_tools build {self.device_name}",
            )
        try:
            self._launch()
            if self.connect_stream:
                self.stream = self.open_stream(self.url)
        except BaseException:
            self.close()
            raise

    def _launch(self) -> None:
        # The port is free when chosen but could be taken before QEMU binds it: retry then.
        for _ in range(3):
            self.port = qemu.free_port()
            argv = qemu.system_argv(self.firmware, self.port, self.icount_shift)
            self.proc = qemu.start(argv, self.log_path)
            if self._wait_listening():
                log.info("%s: QEMU pid %d on %s", self.device_name, self.proc.pid, self.url)
                return
            self._stop_process()
        raise DeviceError(
            f"device {self.device_name!r}: QEMU did not open its serial port ({self._exit_text()})",
            hint=f"see {self.log_path}",
        )

    def _wait_listening(self) -> bool:
        """True once QEMU listens on the port (probing with a connect would be the client)."""
        assert self.proc is not None
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        needle = f":{self.port:04X} 00000000:0000 0A"  # /proc/net/tcp LISTEN on the port
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                if needle in Path("/proc/net/tcp").read_text():
                    return True
            time.sleep(0.02)
        return False

    def open_stream(self, url: str) -> ByteStream:
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                return open_url(url, baudrate=self.baudrate)
            except (serial.SerialException, DeviceError) as e:
                if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                    raise DeviceError(
                        f"device {self.device_name!r}: cannot connect to {url}: {e}",
                        hint=f"see {self.log_path}",
                    ) from e
                time.sleep(0.05)

    def _exit_text(self) -> str:
        if self.proc is None or self.proc.poll() is None:
            return "still running"
        return qemu.exit_status(self.proc.returncode)

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to timeout for QEMU to stop by itself; its exit code, or None if it runs."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else self._returncode

    def exited(self) -> str | None:
        """None while QEMU runs; otherwise what its exit status means."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return self._exit_text()

    def _stop_process(self, grace: float = 2.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            log.debug("%s: terminating QEMU pid %d", self.device_name, proc.pid)
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("%s: QEMU pid %d ignored SIGTERM: killing", self.device_name, proc.pid)
                proc.kill()
                proc.wait()
        self._returncode = proc.returncode

    def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._stop_process()

    def __enter__(self) -> QemuSession:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
