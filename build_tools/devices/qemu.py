"""The `qemu` and `serial` transports: the C micro-runtime over a serial line.

`qemu` starts the target's firmware in QEMU (a fresh emulated MCU per open()), with its UART on
a loopback TCP port, and connects with pyserial (`socket://127.0.0.1:PORT`). `serial` connects to
what options["port"] names: a device path (/dev/ttyUSB0) or any pyserial URL
(socket://, rfc2217://, loop://). Both speak the device protocol (docs/protocol.md) through the
same code as the `process` transport; only how the byte stream is made differs.

Options: `firmware` (Path: run this ELF), `build` (bool, default True: bring the firmware up to date
first; False: use what is built), `log` (Path: QEMU's own output), `icount_shift` (int: deterministic virtual time,
each instruction 2**shift ns, for instruction counts), `port` (serial: the port or URL),
`timeout` (float: per-request timeout in seconds).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.client import DeviceClient, last_printed_line

from ..targets import Target
from .base import register_device
from .posix import PosixDut, runtime_binary
from .qemu_session import QemuSession

log = logging.getLogger(__name__)


def firmware_elf(target: Target, options: dict[str, Any]) -> Path:
    """The firmware to boot: options["firmware"], or the target's build (see runtime_binary)."""
    return runtime_binary(target, options)


class SerialDut(PosixDut):
    """A runtime at the far end of a serial line (a board, or anything pyserial opens)."""

    cli_options = frozenset({"port", "argv", "env"})

    def __init__(self, target: Target, options: dict[str, Any] | None = None) -> None:
        super().__init__(target, options)
        self._serial: Any = None

    def _url(self) -> str:
        port = self.options.get("port")
        if not port:
            raise DeviceError(
                f"target {self.target.name}: no serial port given",
                hint="pass --port /dev/ttyUSB0 (or a pyserial URL such as socket://HOST:PORT)",
            )
        return str(port)

    def _connect(self, url: str, session: QemuSession | None = None) -> None:
        from edge_runtime.protocol.streams import open_url

        try:
            stream = (
                session.open_stream(url)
                if session is not None
                else open_url(url, baudrate=self.target.connection.baud or 115200)
            )
        except Exception as e:
            raise DeviceError(f"device {self.target.name!r}: cannot open {url}: {e}") from e
        self._serial = stream
        self._client = DeviceClient(
            stream, self.target.name, timeout=float(self.options.get("timeout", 2.0))
        )
        self._client.crash_probe = self._crash_probe
        self._hello = self._client.hello()
        self._refresh_items()
        self.put_models_option()
        log.info(
            "%s: %s on %s, %s %s, %d modules, %d models",
            self.target.name,
            self._hello.runtime_name,
            url,
            self._hello.engine,
            self._hello.nn_backend,
            len(self._modules),
            len(self._models),
        )

    def open(self) -> None:
        if self._client is not None:
            return
        try:
            self._connect(self._url())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        serial_stream, self._serial, self._client = self._serial, None, None
        if serial_stream is not None:
            with contextlib.suppress(Exception):
                serial_stream.close()


class QemuDut(SerialDut):
    """One QEMU process per open(); close() (and every error path) ends it."""

    # The emulator's line is its own loopback port: no --port.
    cli_options: frozenset[str] = frozenset({"argv", "env"})

    def __init__(self, target: Target, options: dict[str, Any] | None = None) -> None:
        super().__init__(target, options)
        self.session: QemuSession | None = None

    @property
    def pid(self) -> int | None:
        return self.session.pid if self.session is not None else None

    def open(self) -> None:
        if self.session is not None:
            return
        elf = firmware_elf(self.target, self.options)
        log_path = Path(self.options.get("log") or elf.with_name("qemu.log"))
        shift = self.options.get("icount_shift")
        self.session = QemuSession(
            elf,
            self.target.name,
            log_path,
            icount_shift=int(shift) if shift is not None else None,
            connect=False,
        )
        try:
            self.session.start()
            self._connect(self.session.url, self.session)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        super().close()
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def _crash_probe(self, client: DeviceClient) -> str | None:
        """After a link failure: why QEMU stopped, with the last line the firmware printed."""
        session = self.session
        if session is None or session.wait_exit(2.0) is None:
            return None
        code = session.returncode
        why = f"{session.exited()}, exit {code}"
        line = last_printed_line(client.raw_tail)
        return f"{line} ({why})" if line else why

    def check_alive(self) -> str | None:
        """None while QEMU runs; otherwise why it stopped (e.g. a fatal CPU trap)."""
        return self.session.exited() if self.session is not None else "not started"


register_device("qemu", QemuDut)
