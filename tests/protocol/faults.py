"""A fault-injecting wrapper around a ByteStream: drops, corrupts, truncates, duplicates and
delays whole frames in either direction, with a seeded RNG so a failure can be replayed."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass

from edge_runtime.protocol.streams import ByteStream


@dataclass
class FaultRates:
    drop: float = 0.0
    corrupt: float = 0.0
    truncate: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0  # rx: hold the frame back for delay_s; tx: sleep before sending


class FaultyStream:
    def __init__(
        self,
        inner: ByteStream,
        rng: random.Random,
        tx: FaultRates | None = None,
        rx: FaultRates | None = None,
        delay_s: float = 0.3,
    ) -> None:
        self.inner = inner
        self.rng = rng
        self.tx = tx or FaultRates()
        self.rx = rx or FaultRates()
        self.delay_s = delay_s
        self.timeout: float | None = inner.timeout
        self.injected: Counter[str] = Counter()
        self._raw = bytearray()  # received, not yet split into frames
        self._out = bytearray()  # ready for read()
        self._held: list[tuple[float, bytes]] = []

    def _mangle(self, body: bytes, rates: FaultRates, direction: str) -> list[bytes]:
        """body: one frame without delimiters. Returns the wire pieces to deliver now."""
        frame = b"\x00" + body + b"\x00"
        r = self.rng.random()
        edges = [
            ("drop", rates.drop),
            ("corrupt", rates.corrupt),
            ("truncate", rates.truncate),
            ("duplicate", rates.duplicate),
            ("delay", rates.delay),
        ]
        for name, p in edges:
            if r < p:
                self.injected[f"{direction}_{name}"] += 1
                return self._apply(name, body, frame, direction)
            r -= p
        return [frame]

    def _apply(self, name: str, body: bytes, frame: bytes, direction: str) -> list[bytes]:
        if name == "drop":
            return []
        if name == "corrupt":
            bad = bytearray(body)
            bit = self.rng.randrange(len(bad) * 8)
            bad[bit // 8] ^= 1 << (bit % 8)
            return [b"\x00" + bytes(bad) + b"\x00"]
        if name == "truncate":
            return [b"\x00" + body[: self.rng.randrange(len(body))] + b"\x00"]
        if name == "duplicate":
            return [frame, frame]
        if direction == "tx":
            time.sleep(self.delay_s)
            return [frame]
        self._held.append((time.monotonic() + self.delay_s, frame))
        return []

    def write(self, data: bytes) -> int:
        for body in (part for part in bytes(data).split(b"\x00") if part):
            for piece in self._mangle(body, self.tx, "tx"):
                self.inner.write(piece)
        return len(data)

    def _pump(self, wait: float) -> None:
        now = time.monotonic()
        for item in [h for h in self._held if h[0] <= now]:
            self._held.remove(item)
            self._out += item[1]
        self.inner.timeout = wait
        chunk = self.inner.read(1)
        if chunk and self.inner.in_waiting:
            chunk += self.inner.read(self.inner.in_waiting)
        self._raw += chunk
        while True:
            end = self._raw.find(b"\x00")
            if end < 0:
                return
            body = bytes(self._raw[:end])
            del self._raw[: end + 1]
            if body:
                for piece in self._mangle(body, self.rx, "rx"):
                    self._out += piece

    @property
    def in_waiting(self) -> int:
        self._pump(0.0)
        return len(self._out)

    def read(self, size: int = 1) -> bytes:
        deadline = time.monotonic() + (self.timeout or 0.0)
        while len(self._out) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._pump(min(left, 0.02))
        out = bytes(self._out[:size])
        del self._out[:size]
        return out

    def close(self) -> None:
        self.inner.close()


class DeadStream:
    """A link that accepts everything and never answers (an unplugged board)."""

    def __init__(self) -> None:
        self.timeout: float | None = 1.0
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return len(data)

    @property
    def in_waiting(self) -> int:
        return 0

    def read(self, size: int = 1) -> bytes:
        time.sleep(self.timeout or 0.0)
        return b""

    def close(self) -> None:
        pass
