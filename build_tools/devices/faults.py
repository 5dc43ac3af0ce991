"""A TCP proxy that injects link faults between a host client and a device's TCP serial port.

Sits between pyserial (`socket://127.0.0.1:<proxy port>`) and QEMU's TCP serial server. Each
chunk forwarded in either direction may be corrupted (one bit flipped), dropped, duplicated or
delayed, drawn from a seeded random generator, and the total number of faults per direction is
bounded so that a retrying protocol always makes progress. `stop_forwarding()` simulates a dead
link: both sockets stay open but nothing gets through.

For tests and link-quality experiments only; it listens on loopback.
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultPlan:
    """Per-chunk probabilities (0..1) and bounds. A chunk is whatever one recv() returned."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    max_delay_s: float = 0.05
    max_faults: int = 50  # per direction; after that the direction is clean
    seed: int = 1


@dataclass
class FaultCounts:
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    chunks: int = 0
    bytes: int = 0

    @property
    def faults(self) -> int:
        return self.corrupted + self.dropped + self.duplicated + self.delayed


@dataclass
class _Direction:
    name: str
    rng: random.Random
    counts: FaultCounts = field(default_factory=FaultCounts)


class FaultProxy:
    """`with FaultProxy(upstream_port, plan) as p: serial_for_url(p.url)`."""

    def __init__(
        self, upstream_port: int, plan: FaultPlan | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.upstream = (host, upstream_port)
        self.plan = plan or FaultPlan()
        self._listener = socket.create_server((host, 0))
        self.port = int(self._listener.getsockname()[1])
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self.to_device = _Direction("to-device", random.Random(self.plan.seed))
        self.to_host = _Direction("to-host", random.Random(self.plan.seed + 1))
        self._accept_thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._accept_thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def stop_forwarding(self) -> None:
        """Dead link: keep the connections, forward nothing more in either direction."""
        log.info("fault proxy: link cut")
        self._forwarding.clear()

    def resume_forwarding(self) -> None:
        self._forwarding.set()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                device = socket.create_connection(self.upstream, timeout=5.0)
            except OSError as e:
                log.warning("fault proxy: cannot reach %s:%d: %s", *self.upstream, e)
                client.close()
                continue
            for s in (client, device):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(s)
            for src, dst, d in ((client, device, self.to_device), (device, client, self.to_host)):
                t = threading.Thread(
                    target=self._pump, args=(src, dst, d), name=f"fault-{d.name}", daemon=True
                )
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, d: _Direction) -> None:
        plan = self.plan
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready:
                    continue
                chunk = src.recv(4096)
                if not chunk:
                    break
                if not self._forwarding.is_set():
                    continue
                d.counts.chunks += 1
                d.counts.bytes += len(chunk)
                copies = 1
                if d.counts.faults < plan.max_faults:
                    roll = d.rng.random()
                    if roll < plan.drop:
                        d.counts.dropped += 1
                        continue
                    roll -= plan.drop
                    if roll < plan.corrupt:
                        i = d.rng.randrange(len(chunk))
                        bad = bytearray(chunk)
                        bad[i] ^= 1 << d.rng.randrange(8)
                        chunk = bytes(bad)
                        d.counts.corrupted += 1
                    elif roll - plan.corrupt < plan.duplicate:
                        copies = 2
                        d.counts.duplicated += 1
                    elif roll - plan.corrupt - plan.duplicate < plan.delay:
                        d.counts.delayed += 1
                        time.sleep(d.rng.uniform(0, plan.max_delay_s))
                for _ in range(copies):
                    dst.sendall(chunk)
        except OSError as e:
            log.debug("fault proxy %s: %s", d.name, e)
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._accept_thread.join(timeout=2)
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
