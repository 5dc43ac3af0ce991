"""The EVP module SDK on the Python host: the `env.EVP_*` functions of one module instance.

A module written for the EVP agent runs unchanged (docs/abi.md section 6): it calls
`EVP_initialize`, registers callbacks (C function pointers = indices into its function table) and
loops on `EVP_processEvent`, which runs at most one callback per call on the instance's own
thread. Buffers handed to callbacks are allocated with the module's exported `malloc` and freed
with its `free` after the callback returns. Routing, queues and stopping belong to the executor
(`pipeline.py`), reached through the `Port` this client is given.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from ..deployment.runner import SendOutcome
from .memory import GuestMemory, OutOfBounds
from .runtime import CallResult, HostInstance, NestedCallFailed

log = logging.getLogger(__name__)

HANDLE = 0x1234  # the constant `struct EVP_client *` the public agent's WAMR glue hands out
MAX_TELEMETRY_ENTRIES = 1000  # the agent's sanity bound (EVP_TOOBIG above it)
MAX_STRING = 1 << 16  # topic, key and JSON strings longer than this are EVP_TOOBIG
WAITED_S = 0.001  # a send that took longer waited for room: the guest gets a fresh budget


class Result(IntEnum):
    OK = 0
    SHOULDEXIT = 1
    TIMEDOUT = 2
    ERROR = 3
    INVAL = 4
    NOMEM = 5
    TOOBIG = 6
    AGAIN = 7
    AGENT_PROTOCOL_ERROR = 8
    EXIST = 9
    FAULT = 10
    DENIED = 11
    NOTSUP = 12


class Reason(IntEnum):
    """Callback reasons (message-sent, state, telemetry, RPC response share the values)."""

    SENT = 0
    ERROR = 1  # message: the alias is not in this instance's publish map; telemetry: bad JSON
    EXIT = 2
    DENIED = 3


@dataclass(frozen=True)
class Message:
    """A message as its receiver sees it: the receiver's own subscribe alias and the bytes."""

    alias: str
    payload: bytes


class Port(Protocol):
    """What the executor offers one instance (all calls come from the instance's thread)."""

    name: str

    def next_message(self, timeout_s: float | None) -> Message | None:
        """The next inbound message, or None on timeout or when the instance must stop."""

    def stopping(self) -> bool: ...

    def terminate_now(self) -> bool:
        """The stop grace period is over: the next EVP call ends the instance."""

    def send_message(self, alias: str, payload: bytes) -> SendOutcome: ...

    def send_state(self, topic: str, payload: bytes) -> None: ...

    def send_telemetry(self, entries: list[tuple[str, Any]]) -> None: ...

    def received(self) -> None:
        """A message was handed to the module's callback (counted for --messages)."""


@dataclass(frozen=True)
class _Callback:
    what: str  # for error messages: "message callback", "sent callback", ...
    func: int  # table index
    args: tuple[int, ...]


class EvpClient:
    """The SDK state of one module instance: callbacks, pending completions, configuration.

    The host links one method per import of the ABI table's `env` module, named as the import
    and called as `method(memory, *params)` (docs/abi.md section 6)."""

    def __init__(self, port: Port, config: dict[str, bytes], workspace: str) -> None:
        self.port = port
        self.config = dict(config)
        self.workspace = workspace
        self.instance: HostInstance | None = None
        self._message_cb: tuple[int, int] | None = None  # (function, userData)
        self._config_cb: tuple[int, int] | None = None
        self._rpc_cb: tuple[int, int] | None = None
        self._pending: deque[_Callback | tuple[str, bytes]] = deque()
        self._workspace_ptr = 0
        self.dropped = 0  # messages that arrived while no message callback was set

    def attach(self, instance: HostInstance) -> None:
        self.instance = instance

    # -- registration ----------------------------------------------------------------------

    def EVP_initialize(self, mem: GuestMemory) -> int:
        return HANDLE

    def EVP_getWorkspaceDirectory(self, mem: GuestMemory, h: int, kind: int) -> int:
        if h != HANDLE or kind != 0:
            return int(Result.INVAL)  # as the agent does: an error code in place of a pointer
        if not self._workspace_ptr:
            text = self.workspace.encode() + b"\0"
            ptr = self._malloc(len(text))
            if not ptr:
                return 0
            self._memory().write(ptr, text)
            self._workspace_ptr = ptr
        return self._workspace_ptr

    def EVP_setConfigurationCallback(self, mem: GuestMemory, h: int, cb: int, user: int) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        if self._config_cb is not None:
            return int(Result.ERROR)
        self._config_cb = (cb, user)
        # Delivered on the next EVP_processEvent calls, one topic per call.
        self._pending.extend(self.config.items())
        return int(Result.OK)

    def EVP_setMessageCallback(self, mem: GuestMemory, h: int, cb: int, user: int) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        if self._message_cb is not None:
            return int(Result.ERROR)
        self._message_cb = (cb, user)
        return int(Result.OK)

    def EVP_setRpcCallback(self, mem: GuestMemory, h: int, cb: int, user: int) -> int:
        if h != HANDLE or cb == 0 or self._rpc_cb is not None:
            return int(Result.INVAL)
        self._rpc_cb = (cb, user)
        return int(Result.OK)

    # -- events ----------------------------------------------------------------------------

    def EVP_processEvent(self, mem: GuestMemory, h: int, timeout_ms: int) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        inst = self._inst()
        if self.port.terminate_now():
            raise NestedCallFailed(CallResult("exit", None, "force terminated", 0, exit_code=0))
        # The budget is renewed once the event is known (waiting does not count against the
        # guest; the callback runs under it) and again when the guest's main loop resumes.
        if self._pending:
            inst.reset_deadline()
            self._dispatch(self._pending.popleft())
            inst.reset_deadline()
            return int(Result.OK)
        if self.port.stopping():
            return int(Result.SHOULDEXIT)
        signed = timeout_ms - (1 << 32) if timeout_ms >= 1 << 31 else timeout_ms
        message = self.port.next_message(None if signed < 0 else signed / 1000)
        inst.reset_deadline()
        if message is None:
            return int(Result.SHOULDEXIT if self.port.stopping() else Result.TIMEDOUT)
        if self._message_cb is None:
            self.dropped += 1
            return int(Result.OK)
        cb, user = self._message_cb
        self._deliver("message callback", cb, message.alias, message.payload, user)
        self.port.received()
        inst.reset_deadline()
        return int(Result.OK)

    def _dispatch(self, item: _Callback | tuple[str, bytes]) -> None:
        if isinstance(item, _Callback):
            self._invoke(item.what, item.func, list(item.args))
            return
        if self._config_cb is None:
            return
        topic, value = item
        cb, user = self._config_cb
        self._deliver("configuration callback", cb, topic, value, user)

    def _deliver(self, what: str, cb: int, topic: str, data: bytes, user: int) -> None:
        """cb(topic, data, len, userData) with both buffers in one malloc'd block."""
        name = topic.encode() + b"\0"
        block = self._malloc(len(name) + len(data))
        if not block:
            log.warning("%s: malloc(%d) failed; %s dropped", self.port.name, len(data), what)
            self.dropped += 1
            return
        mem = self._memory()
        mem.write(block, name)
        if data:
            mem.write(block + len(name), data)
        # A failing callback ends the instance: its memory goes with it, no free needed.
        self._invoke(what, cb, [block, block + len(name), len(data), user])
        self._free(block)

    def _complete(self, what: str, cb: int, reason: Reason, user: int) -> None:
        if cb:
            self._pending.append(_Callback(what, cb, (int(reason), user)))

    # -- sending ---------------------------------------------------------------------------

    def EVP_sendMessage(
        self, mem: GuestMemory, h: int, topic: int, buf: int, n: int, cb: int, user: int
    ) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        try:
            alias = self._string(mem, topic)
            payload = mem.view(buf, n).tobytes()
        except OutOfBounds:
            return int(Result.FAULT)
        except ValueError:
            return int(Result.TOOBIG)
        start = time.monotonic()
        outcome = self.port.send_message(alias, payload)
        if time.monotonic() - start > WAITED_S:
            self._inst().reset_deadline()  # time blocked on a full queue is the host's
        if outcome is SendOutcome.DENIED:
            return int(Result.DENIED)
        reason = Reason.SENT if outcome is SendOutcome.QUEUED else Reason.ERROR
        self._complete("message-sent callback", cb, reason, user)
        return int(Result.OK)

    def EVP_sendState(
        self, mem: GuestMemory, h: int, topic: int, buf: int, n: int, cb: int, user: int
    ) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        try:
            name = self._string(mem, topic)
            payload = mem.view(buf, n).tobytes()
        except OutOfBounds:
            return int(Result.FAULT)
        except ValueError:
            return int(Result.TOOBIG)
        self.port.send_state(name, payload)
        self._complete("state callback", cb, Reason.SENT, user)
        return int(Result.OK)

    def EVP_sendTelemetry(
        self, mem: GuestMemory, h: int, entries: int, n: int, cb: int, user: int
    ) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        if n > MAX_TELEMETRY_ENTRIES:
            return int(Result.TOOBIG)
        try:
            words = mem.u32s(entries, 2 * n)
            pairs = [
                (self._string(mem, int(words[2 * i])), self._string(mem, int(words[2 * i + 1])))
                for i in range(n)
            ]
        except OutOfBounds:
            return int(Result.FAULT)
        except ValueError:
            return int(Result.TOOBIG)
        try:
            parsed = [(key, json.loads(value)) for key, value in pairs]
        except json.JSONDecodeError:
            self._complete("telemetry callback", cb, Reason.ERROR, user)
            return int(Result.OK)
        self.port.send_telemetry(parsed)
        self._complete("telemetry callback", cb, Reason.SENT, user)
        return int(Result.OK)

    def EVP_sendRpcResponse(
        self, mem: GuestMemory, h: int, _id: int, response: int, _status: int, cb: int, user: int
    ) -> int:
        if h != HANDLE:
            return int(Result.INVAL)
        if response == 0:
            return int(Result.INVAL)
        # No RPC requests reach instances on this host (no hub): no id can be pending.
        self._complete("RPC response callback", cb, Reason.ERROR, user)
        return int(Result.OK)

    def EVP_blobOperation(
        self,
        mem: GuestMemory,
        h: int,
        _type: int,
        _op: int,
        _request: int,
        _local_store: int,
        _cb: int,
        _user: int,
    ) -> int:
        return int(Result.INVAL if h != HANDLE else Result.NOTSUP)

    # -- guest access ----------------------------------------------------------------------

    def _inst(self) -> HostInstance:
        if self.instance is None:
            raise RuntimeError("EVP client used before its instance was attached")
        return self.instance

    def _memory(self) -> GuestMemory:
        mem = self._inst().current_memory()
        if mem is None:
            raise OutOfBounds("the module exports no memory")
        return mem

    @staticmethod
    def _string(mem: GuestMemory, ptr: int) -> str:
        """A NUL-terminated UTF-8 string in guest memory (ValueError when too long or bad)."""
        mem.check(ptr, 1)
        end = min(ptr + MAX_STRING, mem.size)
        chunk = 64
        while True:
            stop = min(ptr + chunk, end)
            raw = mem.bytes[ptr:stop].tobytes()
            nul = raw.find(b"\0")
            if nul >= 0:
                return raw[:nul].decode("utf-8", errors="replace")
            if stop >= end:
                if end == mem.size:
                    raise OutOfBounds(f"string at {ptr:#x} runs past the end of memory")
                raise ValueError(f"string at {ptr:#x} is longer than {MAX_STRING} bytes")
            chunk *= 8

    def _malloc(self, n: int) -> int:
        result = self._inst().call("malloc", [max(n, 1)], nested=True)
        if result.status != "ok":
            raise NestedCallFailed(_named(result, "malloc"))
        return (result.value or 0) & 0xFFFFFFFF

    def _free(self, ptr: int) -> None:
        result = self._inst().call("free", [ptr], nested=True)
        if result.status != "ok":
            raise NestedCallFailed(_named(result, "free"))

    def _invoke(self, what: str, func: int, args: list[int]) -> None:
        result = self._inst().call_table(func, args, nested=True)
        if result.status != "ok":
            raise NestedCallFailed(_named(result, what))


def _named(result: CallResult, what: str) -> CallResult:
    return CallResult(
        result.status,
        result.value,
        f"{what}: {result.message}",
        result.elapsed_us,
        result.exit_code,
    )
