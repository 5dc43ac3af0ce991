"""CPU-time limit for guest calls: epoch interruption driven by one ticker thread per engine.

Each call sets its store's deadline to `timeout / TICK + 1` epochs; the ticker bumps the engine
epoch every TICK seconds, so an endless loop traps within one tick of its limit. Cost per call is
one `set_epoch_deadline`, no thread start.
"""

from __future__ import annotations

import logging
import math
import threading

import wasmtime

log = logging.getLogger(__name__)

TICK_S = 0.005


class EpochTicker:
    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deadline_ticks(self, timeout_ms: int) -> int:
        return math.ceil(timeout_ms / 1000 / TICK_S) + 1

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wasm-epoch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            self._engine.increment_epoch()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
