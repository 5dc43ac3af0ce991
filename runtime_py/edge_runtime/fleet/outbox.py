"""A bounded on-disk queue of outgoing MQTT messages (QoS 1): a message is deleted only once the
broker acknowledged it (PUBACK), so results survive a broker restart and an agent restart.

One file per message, named by its sequence number (which also goes into the payload, so a
consumer can drop the duplicates at-least-once delivery can produce). When the queue holds
`max_messages`, the oldest unsent message is dropped and counted (`dropped`).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# publish(topic, payload) -> mid, or None when the message could not be handed to the client.
PublishFn = Callable[[str, bytes], int | None]


class Outbox:
    def __init__(self, directory: Path, max_messages: int = 10000, window: int = 32) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.window = window
        self.dropped = 0
        self._lock = threading.Lock()
        self._pending = sorted(int(p.stem) for p in self.dir.glob("*.msg"))
        self._next = (self._pending[-1] + 1) if self._pending else self._load_counter()
        self._inflight: dict[int, int] = {}  # mid -> seq (owned by the sender thread)
        self._sent: set[int] = set()  # seqs handed to the client, not yet acknowledged
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._early: set[int] = set()
        self.wake = threading.Event()

    def _load_counter(self) -> int:
        p = self.dir / "next_seq"
        return int(p.read_text()) if p.is_file() else 0

    def _path(self, seq: int) -> Path:
        return self.dir / f"{seq:012d}.msg"

    def put(self, topic: str, body: dict[str, object]) -> int:
        """Queues a JSON message (its `seq` is added); returns the seq."""
        with self._lock:
            seq = self._next
            self._next += 1
            data = json.dumps({"topic": topic, "payload": {**body, "seq": seq}}).encode()
            tmp = self.dir / f"{seq:012d}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self._path(seq))
            (self.dir / "next_seq").write_text(str(self._next))
            self._pending.append(seq)
            while len(self._pending) > self.max_messages:
                victim = next((s for s in self._pending if s not in self._sent), None)
                if victim is None:
                    break
                self._pending.remove(victim)
                self._path(victim).unlink(missing_ok=True)
                self.dropped += 1
        self.wake.set()
        return seq

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def on_ack(self, mid: int) -> None:
        """From the MQTT client's network thread: queue only (no locks shared with paho)."""
        self._acks.put(mid)
        self.wake.set()

    def pump(self, publish: PublishFn | None) -> None:
        """Sender-thread step: settle acknowledgements, then hand out up to `window` messages
        (publish is None while disconnected)."""
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            self._settle(mid)
        if publish is None:
            return
        with self._lock:
            todo = [s for s in self._pending if s not in self._sent]
            room = self.window - len(self._sent)
        for seq in todo[: max(room, 0)]:
            try:
                record = json.loads(self._path(seq).read_bytes())
            except FileNotFoundError:
                continue
            handed = publish(record["topic"], json.dumps(record["payload"]).encode())
            if handed is None:
                return
            mid = handed
            with self._lock:
                self._sent.add(seq)
                self._inflight[mid] = seq
            if mid in self._early:
                self._early.discard(mid)
                self._settle(mid)

    def _settle(self, mid: int) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._early.add(mid)
                return
            self._sent.discard(seq)
            if seq in self._pending:
                self._pending.remove(seq)
            self._path(seq).unlink(missing_ok=True)
