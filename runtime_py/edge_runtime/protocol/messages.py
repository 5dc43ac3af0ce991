"""Message types, status codes and little-endian payload structs (docs/protocol.md section 4)."""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

MAX_ARGS = 8
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class MsgType(IntEnum):
    HELLO = 0x01
    PUT_BEGIN = 0x10
    PUT_CHUNK = 0x11
    PUT_END = 0x12
    LIST = 0x20
    INSTANTIATE = 0x30
    DROP = 0x31
    CALL = 0x32
    ARGS = 0x33
    MEM_WRITE = 0x40
    MEM_READ = 0x41
    FRAME_BEGIN = 0x42
    FRAME_CHUNK = 0x43
    FRAME_END = 0x44
    LOGS = 0x50
    STATS = 0x51
    RESET = 0x60
    PIPE_BIND = 0x70
    PIPE_ROUTE = 0x71
    PIPE_CONFIG = 0x72
    PIPE_START = 0x73
    PIPE_PUBLISH = 0x74
    PIPE_POLL = 0x75
    PIPE_STATUS = 0x76
    PIPE_STOP = 0x77


class Status(IntEnum):
    OK = 0
    PRESENT = 1
    BAD_REQUEST = 2
    UNKNOWN_TYPE = 3
    UNSUPPORTED = 4
    NO_SPACE = 5
    NOT_FOUND = 6
    BAD_STATE = 7
    HASH_MISMATCH = 8
    OUT_OF_BOUNDS = 9
    BUSY = 10
    INTERNAL = 11


class Kind(IntEnum):
    MODULE = 0
    MODEL = 1


class CallOutcome(IntEnum):
    RETURNED = 0
    TRAPPED = 1
    EXITED = 2
    TIMEOUT = 3


CAP_LOAD_MODULES = 0x01
CAP_LOAD_MODELS = 0x02
CAP_ARGS = 0x04  # takes ARGS
CAP_FRAMES = 0x08  # takes FRAME_BEGIN / FRAME_CHUNK / FRAME_END
CAP_PIPELINES = 0x10  # runs a deployment itself: PIPE_* messages (docs/protocol.md 4.1)


class MalformedPayload(ValueError):
    """A payload is shorter or longer than its struct says."""


class Reader:
    """Bounds-checked little-endian cursor over a payload."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedPayload(f"need {n} bytes at offset {self.pos} of {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def i32(self) -> int:
        return int(struct.unpack("<i", self.take(4))[0])

    def string(self) -> str:
        return self.take(self.u8()).decode("utf-8", "replace")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def done(self) -> None:
        if self.pos != len(self.data):
            raise MalformedPayload(f"{len(self.data) - self.pos} trailing bytes")


def pack_str(s: str) -> bytes:
    raw = s.encode()
    if len(raw) > 255:
        raise ValueError(f"string of {len(raw)} bytes is longer than 255")
    return bytes([len(raw)]) + raw


def check_name(name: str, what: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not 1-64 characters of [A-Za-z0-9_.-]")
    return name


@dataclass(frozen=True)
class HelloInfo:
    protocol_version: int
    capabilities: int
    max_payload: int
    ram_bytes: int
    flash_bytes: int
    modules: int
    models: int
    runtime_name: str
    runtime_version: str
    engine: str
    nn_backend: str
    target: str

    @property
    def can_load_modules(self) -> bool:
        return bool(self.capabilities & CAP_LOAD_MODULES)

    @property
    def can_load_models(self) -> bool:
        return bool(self.capabilities & CAP_LOAD_MODELS)

    @property
    def takes_args(self) -> bool:
        return bool(self.capabilities & CAP_ARGS)

    @property
    def takes_frames(self) -> bool:
        return bool(self.capabilities & CAP_FRAMES)

    @property
    def can_run_pipelines(self) -> bool:
        return bool(self.capabilities & CAP_PIPELINES)


def unpack_hello(body: bytes) -> HelloInfo:
    r = Reader(body)
    head = (r.u8(), r.u8(), r.u16(), r.u32(), r.u32(), r.u16(), r.u16())
    strings = tuple(r.string() for _ in range(5))
    r.done()
    return HelloInfo(*head, *strings)


@dataclass(frozen=True)
class Item:
    """A module or model stored on the device."""

    kind: Kind
    name: str
    size: int
    sha256: str  # hex


def pack_put_begin(kind: Kind, name: str, size: int, sha256: bytes) -> bytes:
    check_name(name, "name")
    if len(sha256) != 32:
        raise ValueError("sha256 must be 32 bytes")
    return bytes([kind]) + pack_str(name) + struct.pack("<I", size) + sha256


def pack_put_chunk(offset: int, data: bytes) -> bytes:
    return struct.pack("<I", offset) + data


def unpack_list(body: bytes) -> tuple[bool, list[Item]]:
    r = Reader(body)
    more, count = r.u8(), r.u8()
    items = []
    for _ in range(count):
        kind, name, size, sha = Kind(r.u8()), r.string(), r.u32(), r.take(32).hex()
        items.append(Item(kind, name, size, sha))
    r.done()
    return bool(more), items


def pack_instantiate(module: str) -> bytes:
    """By name, or by sha256 when given 64 hex digits."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", module):
        return b"\x01" + bytes.fromhex(module)
    return b"\x00" + pack_str(check_name(module, "module name"))


def pack_call(instance: int, export: str, args: list[int]) -> bytes:
    check_name(export, "export name")
    if len(args) > MAX_ARGS:
        raise ValueError(f"{len(args)} arguments: at most {MAX_ARGS}")
    head = struct.pack("<IB", instance, len(args)) + pack_str(export)
    # i32 arguments: accept both signed and unsigned 32-bit Python ints.
    return head + b"".join(struct.pack("<I", a & 0xFFFFFFFF) for a in args)


@dataclass(frozen=True)
class CallResult:
    outcome: CallOutcome
    result: int | None  # the i32 result when the export returned one
    value: int  # result, or the exit code when the guest exited
    elapsed_us: int
    message: str  # trap / exit / timeout text, "" when returned

    @property
    def ok(self) -> bool:
        return self.outcome is CallOutcome.RETURNED


def unpack_call(body: bytes) -> CallResult:
    r = Reader(body)
    outcome, has_result, value, elapsed = CallOutcome(r.u8()), r.u8(), r.i32(), r.u32()
    message = r.rest().decode("utf-8", "replace")
    result = value if (outcome is CallOutcome.RETURNED and has_result) else None
    return CallResult(outcome, result, value, elapsed, message)


# ---- ARGS and FRAME_* (docs/protocol.md: ARGS, FRAME_BEGIN / FRAME_CHUNK / FRAME_END) ----

ARGS_MAX = 32  # argv and environ strings together
FRAME_FORMATS = {"gray8": 0, "rgb888": 1, "yuv422": 2}  # docs/abi.md section 7
FRAME_BYTES_PER_PIXEL = {0: 1, 1: 3, 2: 2}


def pack_args(instance: int, argv: Sequence[str], environ: Sequence[str]) -> bytes:
    """ARGS: u32 instance, u8 argc, str argv..., u8 envc, str environ... Raises ValueError
    naming the entry for what the device would refuse."""
    if len(argv) + len(environ) > ARGS_MAX:
        raise ValueError(
            f"{len(argv)} arguments and {len(environ)} environment variables: at most "
            f"{ARGS_MAX} together"
        )
    out = struct.pack("<I", instance)
    for what, items in (("argv", argv), ("environ", environ)):
        out += bytes([len(items)])
        for i, text in enumerate(items):
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"{what}[{i}] {text!r} is not valid UTF-8") from e
            if b"\0" in raw:
                raise ValueError(f"{what}[{i}] {text!r} contains a NUL character")
            if len(raw) > 255:
                raise ValueError(f"{what}[{i}] is {len(raw)} bytes long: at most 255")
            if what == "environ" and raw.find(b"=") < 1:
                raise ValueError(f"{what}[{i}] {text!r} is not KEY=VALUE")
            out += bytes([len(raw)]) + raw
    return out


def pack_frame_begin(instance: int, width: int, height: int, fmt: int) -> bytes:
    """FRAME_BEGIN: u32 instance, u16 width, u16 height, u8 format."""
    return struct.pack("<IHHB", instance, width, height, fmt)


STATS_EXTENDED = 0x01  # request flag: append the extended fields
STATS_RESET_PEAKS = 0x02  # request flag: after reading, restart the heap and stack peaks


class CounterUnit(IntEnum):
    """What the device's free-running counter counts (extended STATS)."""

    NONE = 0  # no counter
    INSTRET = 1  # instructions retired (rv32 instret CSR)
    NS = 2  # nanoseconds of a monotonic clock: not an instruction count


@dataclass(frozen=True)
class Stats:
    ram_high_water: int  # heap peak (bytes) since boot or the last peak reset
    heap_in_use: int
    last_call_us: int
    frames_ok: int
    bad_crc: int
    bad_frame: int
    timeouts: int
    duplicates: int
    uptime_ms: int
    # extended STATS; None when the device sent the version-1 response
    stack_high_water: int | None = None  # bytes; None also when the device does not measure it
    counter_unit: CounterUnit | None = None
    counter: int | None = None
    last_call_counter: int | None = None  # counter units spent in the last CALL

    @property
    def last_call_instructions(self) -> int | None:
        """Instructions retired during the last CALL, when the counter counts instructions."""
        if self.counter_unit is CounterUnit.INSTRET:
            return self.last_call_counter
        return None


def pack_stats(flags: int) -> bytes:
    """STATS request: empty (version-1 response) or one flags byte."""
    return bytes([flags]) if flags else b""


def unpack_stats(body: bytes) -> Stats:
    """Nine u32, then the extended fields when present; later additions are ignored."""
    r = Reader(body)
    v = [r.u32() for _ in range(9)]
    base = Stats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])
    if len(body) - r.pos < 4 + 1 + 8 + 8:
        r.done()
        return base
    stack = r.u32()
    unit_code = r.u8()
    try:
        unit = CounterUnit(unit_code)
    except ValueError:
        unit = CounterUnit.NONE
    counter = r.u32() | r.u32() << 32
    last = r.u32() | r.u32() << 32
    return replace(
        base,
        stack_high_water=stack or None,
        counter_unit=unit,
        counter=counter if unit is not CounterUnit.NONE else None,
        last_call_counter=last if unit is not CounterUnit.NONE else None,
    )


def unpack_u32(body: bytes) -> int:
    r = Reader(body)
    value = r.u32()
    r.done()
    return value


def unpack_more_bytes(body: bytes) -> tuple[bool, bytes]:
    """LOGS body: u8 more, then bytes."""
    r = Reader(body)
    more = bool(r.u8())
    return more, r.rest()


# ---- pipelines (docs/protocol.md section 4.1) ----

PIPE_PUBLISH_MORE = 0x01  # PIPE_PUBLISH flag: stage these bytes, more parts follow
TOPIC_MAX = 64


class PipeState(IntEnum):
    EMPTY = 0
    BINDING = 1
    RUNNING = 2
    STOPPING = 3
    STOPPED = 4


class PipeInstanceStatus(IntEnum):
    UNKNOWN = 0
    OK = 1
    ERROR = 2  # for good: no restart left
    SELF_EXITING = 3
    STOPPED = 4
    RESTARTING = 5  # failed, a restart pending

    @property
    def evp(self) -> str:
        """The EVP deploymentStatus word (a stopped instance is reported "ok", one waiting for
        its restart "error", as the host executor reports both)."""
        return {0: "unknown", 1: "ok", 2: "error", 3: "self-exiting", 4: "ok", 5: "error"}[
            int(self)
        ]


class PipeRecordKind(IntEnum):
    STATE = 0
    TELEMETRY = 1
    STATUS = 2
    LOG = 3


PIPE_RECORD_TRUNCATED = 0x80


def pack_topic(topic: str) -> bytes:
    """An alias, topic or configuration name: 1-64 bytes of UTF-8 without 0x00."""
    raw = topic.encode()
    if not 1 <= len(raw) <= TOPIC_MAX or b"\0" in raw:
        raise ValueError(f"topic {topic!r} is not 1-{TOPIC_MAX} bytes without NUL")
    return bytes([len(raw)]) + raw


@dataclass(frozen=True)
class PipeLimits:
    memory_kib: int = 0  # 0: the device's instance limit
    handler_timeout_ms: int = 0  # 0: the device's call limit
    queue_depth: int = 0  # 0: 16
    send_timeout_ms: int = 0  # 0: 1000
    max_restarts: int = 3


def pack_pipe_bind(instance: str, module: str, limits: PipeLimits) -> bytes:
    """Module by name, or by sha256 when given 64 hex digits (as INSTANTIATE)."""
    return (
        pack_str(check_name(instance, "instance name"))
        + pack_instantiate(module)
        + struct.pack(
            "<IIHIB",
            limits.memory_kib,
            limits.handler_timeout_ms,
            limits.queue_depth,
            limits.send_timeout_ms,
            limits.max_restarts,
        )
    )


def pack_pipe_route(instance: str, subscribe: bool, alias: str, topic: str) -> bytes:
    return (
        pack_str(check_name(instance, "instance name"))
        + bytes([1 if subscribe else 0])
        + pack_topic(alias)
        + pack_topic(topic)
    )


def pack_pipe_config(instance: str, topic: str, value: bytes) -> bytes:
    return pack_str(check_name(instance, "instance name")) + pack_topic(topic) + value


def pack_pipe_publish(topic: str, payload: bytes, more: bool = False) -> bytes:
    return bytes([PIPE_PUBLISH_MORE if more else 0]) + pack_topic(topic) + payload


def pack_pipe_stop(grace_ms: int = 0) -> bytes:
    return struct.pack("<I", grace_ms)


@dataclass(frozen=True)
class PipeRecord:
    kind: PipeRecordKind
    instance: str
    truncated: bool
    key: str  # state topic or telemetry key; "" for STATUS
    value: bytes  # state value, telemetry JSON text, the failure message or output bytes
    status: PipeInstanceStatus | None = None  # STATUS records
    restarts: int = 0


def unpack_pipe_poll(body: bytes) -> tuple[bool, list[PipeRecord]]:
    r = Reader(body)
    more = bool(r.u8())
    records = []
    while r.pos < len(body):
        code = r.u8()
        kind = PipeRecordKind(code & 0x7F)
        instance = r.string()
        truncated = bool(code & PIPE_RECORD_TRUNCATED)
        if kind is PipeRecordKind.LOG:
            records.append(PipeRecord(kind, instance, truncated, "", r.take(r.u16())))
        elif kind is PipeRecordKind.STATUS:
            status, restarts = PipeInstanceStatus(r.u8()), r.u8()
            records.append(
                PipeRecord(kind, instance, truncated, "", r.take(r.u16()), status, restarts)
            )
        else:
            key = r.string()
            records.append(PipeRecord(kind, instance, truncated, key, r.take(r.u16())))
    return more, records


@dataclass(frozen=True)
class PipeInstanceInfo:
    instance: str
    module: str
    status: PipeInstanceStatus
    restarts: int
    instance_id: int  # for LOGS / MEM_READ; 0 while none
    received: int
    sent: int
    denied: int
    dropped: int
    queue_len: int
    queue_high_water: int
    memory_bytes: int
    stack_high_water: int  # bytes of the instance's task stack ever used (all its lives)
    failure_message: str


@dataclass(frozen=True)
class PipeStatus:
    state: PipeState
    more: bool
    outbox_dropped: int
    instances: list[PipeInstanceInfo]


def unpack_pipe_status(body: bytes) -> PipeStatus:
    r = Reader(body)
    state, more, count, dropped = PipeState(r.u8()), bool(r.u8()), r.u8(), r.u32()
    out = []
    for _ in range(count):
        name, module = r.string(), r.string()
        status, restarts, iid = PipeInstanceStatus(r.u8()), r.u8(), r.u32()
        received, sent, denied, dropped_n = r.u32(), r.u32(), r.u32(), r.u32()
        qlen, qhw, mem, stack = r.u16(), r.u16(), r.u32(), r.u32()
        msg = r.string()
        out.append(
            PipeInstanceInfo(
                name,
                module,
                status,
                restarts,
                iid,
                received,
                sent,
                denied,
                dropped_n,
                qlen,
                qhw,
                mem,
                stack,
                msg,
            )
        )
    r.done()
    return PipeStatus(state, more, dropped, out)
