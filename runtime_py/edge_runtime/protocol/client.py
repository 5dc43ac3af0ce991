"""DeviceClient: requests with retransmission, dedup by sequence number, typed results."""

from __future__ import annotations

import builtins
import hashlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from edge_runtime.errors import DeviceError
from edge_runtime.protocol.framing import Frame, FrameDecoder, FrameError, encode_frame
from edge_runtime.protocol.messages import (
    FRAME_BYTES_PER_PIXEL,
    STATS_EXTENDED,
    STATS_RESET_PEAKS,
    CallResult,
    HelloInfo,
    Item,
    Kind,
    MalformedPayload,
    MsgType,
    PipeInstanceInfo,
    PipeLimits,
    PipeRecord,
    PipeStatus,
    Stats,
    Status,
    pack_args,
    pack_call,
    pack_frame_begin,
    pack_instantiate,
    pack_pipe_bind,
    pack_pipe_config,
    pack_pipe_publish,
    pack_pipe_route,
    pack_pipe_stop,
    pack_put_begin,
    pack_put_chunk,
    pack_stats,
    pack_topic,
    unpack_call,
    unpack_hello,
    unpack_list,
    unpack_more_bytes,
    unpack_pipe_poll,
    unpack_pipe_status,
    unpack_stats,
    unpack_u32,
)
from edge_runtime.protocol.streams import ByteStream

__all__ = ["CallResult", "DeviceClient", "DeviceRequestError", "PipelineBusy"]

log = logging.getLogger(__name__)

MIN_PAYLOAD = 256  # every device accepts this much; used until HELLO says more
POLL_S = 0.05  # stream read timeout: bounds how late a request timeout is noticed
ProgressFn = Callable[[int, int], None]
T = TypeVar("T")
RAW_TAIL = 1024  # bytes of the raw input kept for crash reports (what the device printed last)
# Called after the link failed: the cause when the device crashed, else None.
CrashProbe = Callable[["DeviceClient"], "str | None"]


def last_printed_line(raw: bytes) -> str | None:
    """The last line of text a device printed outside frames (after the last delimiter)."""
    tail = raw.rsplit(b"\x00", 1)[-1]
    text = "".join(ch for ch in tail.decode("ascii", "replace") if ch.isprintable() or ch == "\n")
    lines = [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 3]
    return lines[-1] if lines else None


class DeviceRequestError(DeviceError):
    """The device answered a request with an error status (the message is the device's)."""

    def __init__(self, message: str, status: Status, device_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.device_message = device_message


class PipelineBusy(DeviceRequestError):
    """PIPE_PUBLISH answered BUSY: a receiver's queue is full (backpressure); nothing was
    queued, and the parts sent so far stay staged on the device for the retry."""


class DeviceClient:
    """Host end of the protocol over any ByteStream. Not thread-safe: one request at a time."""

    def __init__(
        self, stream: ByteStream, device_name: str, *, timeout: float = 2.0, retries: int = 3
    ) -> None:
        if retries < 1:
            raise ValueError("retries must be >= 1")
        self.stream = stream
        self.device_name = device_name
        self.timeout = timeout
        self.retries = retries
        self.info: HelloInfo | None = None
        self.max_payload = MIN_PAYLOAD
        self.retransmits = 0
        self.discarded = 0  # stale/duplicate responses and corrupt frames dropped
        self.wire_bytes_out = 0
        self.wire_bytes_in = 0
        self._decoder = FrameDecoder(max_payload=0xFFFF)
        self._frames: deque[Frame] = deque()
        # A random start makes a seq collision with a previous session unlikely (the device
        # also keys its cache on the request CRC).
        self._seq = random.randrange(0x10000)
        self._stats_v1_only = False  # the device rejected the extended STATS request
        self.raw_tail = b""  # the last RAW_TAIL bytes received, frames and stray text alike
        self.crash_probe: CrashProbe | None = None  # set by the device adapter
        stream.timeout = POLL_S

    # ---- transport ----

    def request(
        self, mtype: MsgType, payload: bytes = b"", *, timeout: float | None = None
    ) -> tuple[Status, bytes]:
        """Send one request (retransmitting the same frame on timeout); return (status, body)."""
        timeout = self.timeout if timeout is None else timeout
        if self.stream.timeout != POLL_S:  # someone else may share and retune the stream
            self.stream.timeout = POLL_S
        self._seq = (self._seq + 1) & 0xFFFF
        seq = self._seq
        wire = encode_frame(Frame(mtype, 0, seq, payload), max_payload=self.max_payload)
        try:
            for attempt in range(1, self.retries + 1):
                if attempt > 1:
                    self.retransmits += 1
                    log.info(
                        "%s: no answer to %s seq %d, try %d",
                        self.device_name,
                        mtype.name,
                        seq,
                        attempt,
                    )
                self._write(wire, mtype)
                frame = self._await(mtype, seq, time.monotonic() + timeout)
                if frame is not None:
                    return self._split(mtype, frame.payload)
            raise DeviceError(
                f"device {self.device_name!r} did not answer {mtype.name} after {self.retries} "
                f"tries (timeout {timeout:.1f} s)",
                hint="check the connection and that the runtime is running",
            )
        except DeviceError as e:
            cause = self._crash_cause()
            if cause is None:
                raise
            raise DeviceError(
                f"device {self.device_name!r} crashed during {mtype.name}: {cause}", hint=e.hint
            ) from e

    def _crash_cause(self) -> str | None:
        if self.crash_probe is None:
            return None
        try:
            return self.crash_probe(self)
        except Exception as e:  # a probe must never hide the original error
            log.debug("%s: crash probe failed: %s", self.device_name, e)
            return None

    def _write(self, wire: bytes, mtype: MsgType) -> None:
        try:
            self.stream.write(wire)
        except OSError as e:
            raise DeviceError(
                f"device {self.device_name!r}: sending {mtype.name} failed: {e}"
            ) from e
        self.wire_bytes_out += len(wire)

    def _await(self, mtype: MsgType, seq: int, deadline: float) -> Frame | None:
        while True:
            while self._frames:
                frame = self._frames.popleft()
                if frame.is_response and frame.type == mtype and frame.seq == seq:
                    return frame
                self.discarded += 1
                log.debug(
                    "%s: discarding frame type %#x seq %d", self.device_name, frame.type, frame.seq
                )
            if time.monotonic() >= deadline:
                return None
            try:
                data = self.stream.read(1)
                if data:
                    waiting = self.stream.in_waiting
                    if waiting:
                        data += self.stream.read(waiting)
            except OSError as e:
                raise DeviceError(
                    f"device {self.device_name!r}: reading {mtype.name} failed: {e}"
                ) from e
            self.wire_bytes_in += len(data)
            self.raw_tail = (self.raw_tail + data)[-RAW_TAIL:]
            for item in self._decoder.feed(data):
                if isinstance(item, FrameError):
                    self.discarded += 1
                else:
                    self._frames.append(item)

    def _split(self, mtype: MsgType, payload: bytes) -> tuple[Status, bytes]:
        if len(payload) < 2:
            raise DeviceError(f"device {self.device_name!r}: {mtype.name} response has no status")
        code = int.from_bytes(payload[:2], "little")
        try:
            status = Status(code)
        except ValueError:
            raise DeviceError(
                f"device {self.device_name!r}: {mtype.name} answered unknown status {code}"
            ) from None
        return status, payload[2:]

    def _ok(self, mtype: MsgType, payload: bytes = b"", *, timeout: float | None = None) -> bytes:
        """Request, and raise DeviceRequestError on any status but OK."""
        status, body = self.request(mtype, payload, timeout=timeout)
        if status is not Status.OK:
            raise self._error(mtype, status, body)
        return body

    def _error(self, mtype: MsgType, status: Status, body: bytes) -> DeviceRequestError:
        text = body.decode("utf-8", "replace")
        return DeviceRequestError(
            f"device {self.device_name!r}: {mtype.name} failed ({status.name}): {text}",
            status,
            text,
        )

    def _parse(self, mtype: MsgType, fn: Callable[[bytes], T], body: bytes) -> T:
        try:
            return fn(body)
        except (MalformedPayload, ValueError) as e:
            raise DeviceError(
                f"device {self.device_name!r}: malformed {mtype.name} response: {e}"
            ) from e

    # ---- operations ----

    def hello(self) -> HelloInfo:
        info = self._parse(MsgType.HELLO, unpack_hello, self._ok(MsgType.HELLO))
        self.info = info
        self.max_payload = max(MIN_PAYLOAD, info.max_payload)
        return info

    def put(self, kind: Kind, name: str, data: bytes, progress: ProgressFn | None = None) -> bool:
        """Upload a module or model. Returns False when the device already had it (same sha256)."""
        if self.info is None:
            self.hello()
        total = len(data)
        begin = pack_put_begin(kind, name, total, hashlib.sha256(data).digest())
        status, body = self.request(MsgType.PUT_BEGIN, begin)
        if status is Status.PRESENT:
            log.info("%s: %s %r already present", self.device_name, kind.name.lower(), name)
            if progress:
                progress(total, total)
            return False
        if status is not Status.OK:
            raise self._error(MsgType.PUT_BEGIN, status, body)
        step = self.max_payload - 4
        for offset in range(0, total, step):
            chunk = data[offset : offset + step]
            self._ok(MsgType.PUT_CHUNK, pack_put_chunk(offset, chunk))
            if progress:
                progress(offset + len(chunk), total)
        self._ok(MsgType.PUT_END)
        if progress and total == 0:
            progress(0, 0)
        return True

    def list(self) -> list[Item]:
        items: list[Item] = []
        while True:
            body = self._ok(MsgType.LIST, len(items).to_bytes(2, "little"))
            more, page = self._parse(MsgType.LIST, unpack_list, body)
            items += page
            if not more or not page:
                return items

    def instantiate(self, module: str) -> int:
        """Instantiate a stored module by name or by sha256 (64 hex digits)."""
        body = self._ok(MsgType.INSTANTIATE, pack_instantiate(module))
        return self._parse(MsgType.INSTANTIATE, unpack_u32, body)

    def drop(self, instance: int) -> None:
        self._ok(MsgType.DROP, instance.to_bytes(4, "little"))

    def call(
        self, instance: int, export: str, args: Sequence[int] = (), *, timeout: float | None = None
    ) -> CallResult:
        body = self._ok(MsgType.CALL, pack_call(instance, export, list(args)), timeout=timeout)
        return self._parse(MsgType.CALL, unpack_call, body)

    def mem_write(self, instance: int, addr: int, data: bytes) -> None:
        step = self.max_payload - 8
        head = instance.to_bytes(4, "little")
        for off in range(0, max(len(data), 1), step):
            self._ok(
                MsgType.MEM_WRITE,
                head + (addr + off).to_bytes(4, "little") + data[off : off + step],
            )

    def mem_read(self, instance: int, addr: int, length: int) -> bytes:
        step = self.max_payload - 2
        out = bytearray()
        while len(out) < length:
            n = min(step, length - len(out))
            req = instance.to_bytes(4, "little") + (addr + len(out)).to_bytes(4, "little")
            body = self._ok(MsgType.MEM_READ, req + n.to_bytes(2, "little"))
            if len(body) != n:
                raise DeviceError(
                    f"device {self.device_name!r}: MEM_READ returned {len(body)} of {n} bytes"
                )
            out += body
        return bytes(out)

    def logs(self, instance: int) -> bytes:
        """Drain the instance's captured stdout/stderr."""
        out = bytearray()
        while True:
            body = self._ok(MsgType.LOGS, instance.to_bytes(4, "little"))
            more, data = self._parse(MsgType.LOGS, unpack_more_bytes, body)
            out += data
            if not more:
                return bytes(out)

    def stats(self, *, reset_peaks: bool = False) -> Stats:
        """STATS, extended when the device knows it (older devices answer a flags byte with
        BAD_REQUEST: then the version-1 response, and no peak reset). reset_peaks: the device
        restarts its heap and stack high-water marks after reading them."""
        if not self._stats_v1_only:
            flags = STATS_EXTENDED | (STATS_RESET_PEAKS if reset_peaks else 0)
            status, body = self.request(MsgType.STATS, pack_stats(flags))
            if status is Status.OK:
                return self._parse(MsgType.STATS, unpack_stats, body)
            if status is not Status.BAD_REQUEST:
                raise self._error(MsgType.STATS, status, body)
            self._stats_v1_only = True
        return self._parse(MsgType.STATS, unpack_stats, self._ok(MsgType.STATS))

    def reset(self) -> None:
        self._ok(MsgType.RESET)

    # ---- ARGS and frames (HELLO capabilities ARGS, FRAMES) ----

    def set_args(self, instance: int, argv: Sequence[str], environ: Sequence[str]) -> None:
        """WASI arguments (argv[0] included) and KEY=VALUE environment of an instance, before
        its first call. ValueError for what the protocol cannot carry (count, size, UTF-8)."""
        payload = pack_args(instance, argv, environ)
        if len(payload) > self.max_payload:
            raise ValueError(
                f"arguments and environment take {len(payload) - 4} bytes: the device takes at "
                f"most {self.max_payload - 4} in one ARGS request"
            )
        self._ok(MsgType.ARGS, payload)

    def put_frame(self, instance: int, width: int, height: int, fmt: int, pixels: bytes) -> int:
        """Streams packed pixels (format code fmt: 0 gray8, 1 rgb888, 2 yuv422) to the device
        as a new image handle of the instance; returns the handle."""
        expected = width * height * FRAME_BYTES_PER_PIXEL.get(fmt, 0)
        if len(pixels) != expected:
            raise ValueError(
                f"frame {width}x{height} format {fmt}: {len(pixels)} bytes, expected {expected}"
            )
        body = self._ok(MsgType.FRAME_BEGIN, pack_frame_begin(instance, width, height, fmt))
        size = self._parse(MsgType.FRAME_BEGIN, unpack_u32, body)
        if size != len(pixels):
            raise DeviceError(
                f"device {self.device_name!r}: FRAME_BEGIN wants {size} bytes, not {len(pixels)}"
            )
        step = self.max_payload - 4
        for offset in range(0, size, step):
            self._ok(MsgType.FRAME_CHUNK, pack_put_chunk(offset, pixels[offset : offset + step]))
        body = self._ok(MsgType.FRAME_END)
        return self._parse(MsgType.FRAME_END, unpack_u32, body)

    # ---- pipelines (docs/protocol.md section 4.1) ----
    # Requests for a deployment the device runs itself (capability PIPELINES). Bad names or
    # topics raise ValueError before anything is sent; a device error raises
    # DeviceRequestError naming the request and the device's reason.

    def pipe_bind(self, instance: str, module: str, limits: PipeLimits) -> int:
        """Binds a stored module (by name or sha256 hex) as a named instance; its instance id."""
        body = self._ok(MsgType.PIPE_BIND, pack_pipe_bind(instance, module, limits))
        return self._parse(MsgType.PIPE_BIND, unpack_u32, body)

    def pipe_route(self, instance: str, subscribe: bool, alias: str, topic: str) -> None:
        self._ok(MsgType.PIPE_ROUTE, pack_pipe_route(instance, subscribe, alias, topic))

    def pipe_config(self, instance: str, topic: str, value: bytes) -> None:
        self._ok(MsgType.PIPE_CONFIG, pack_pipe_config(instance, topic, value))

    def pipe_start(self) -> int:
        """Starts every bound instance; how many started."""
        body = self._ok(MsgType.PIPE_START)
        if len(body) != 1:
            raise DeviceError(f"device {self.device_name!r}: malformed PIPE_START response")
        return body[0]

    def pipe_publish(self, topic: str, payload: bytes, *, resend_last: bool = False) -> int:
        """Publishes a message from outside the deployment; the number of deliveries. Payloads
        larger than one frame go in parts (the device stages them). Raises PipelineBusy when a
        receiver's queue is full: call again with resend_last=True to send only the last part
        (the others stay staged)."""
        step = self.max_payload - 1 - len(pack_topic(topic))
        parts = [payload[i : i + step] for i in range(0, len(payload), step)] or [b""]
        if not resend_last:
            for part in parts[:-1]:
                self._ok(MsgType.PIPE_PUBLISH, pack_pipe_publish(topic, part, more=True))
        status, body = self.request(MsgType.PIPE_PUBLISH, pack_pipe_publish(topic, parts[-1]))
        if status is Status.BUSY:
            text = body.decode("utf-8", "replace")
            raise PipelineBusy(
                f"device {self.device_name!r}: PIPE_PUBLISH on {topic!r}: a receiver's queue "
                f"is full{': ' + text if text else ''}",
                status,
                text,
            )
        if status is not Status.OK:
            raise self._error(MsgType.PIPE_PUBLISH, status, body)
        return self._parse(MsgType.PIPE_PUBLISH, _u16, body)

    def pipe_poll(self) -> builtins.list[PipeRecord]:
        """Drains the device's outbox of state, telemetry and status reports, oldest first."""
        records: builtins.list[PipeRecord] = []
        while True:
            body = self._ok(MsgType.PIPE_POLL)
            more, page = self._parse(MsgType.PIPE_POLL, unpack_pipe_poll, body)
            records += page
            if not more or not page:
                return records

    def pipe_status(self) -> PipeStatus:
        """The deployment's state and every instance's status and counters."""
        first: PipeStatus | None = None
        instances: builtins.list[PipeInstanceInfo] = []
        while True:
            body = self._ok(MsgType.PIPE_STATUS, bytes([len(instances)]))
            page = self._parse(MsgType.PIPE_STATUS, unpack_pipe_status, body)
            first = first or page
            instances += page.instances
            if not page.more or not page.instances:
                return PipeStatus(first.state, False, first.outbox_dropped, instances)

    def pipe_stop(self, grace_ms: int = 0) -> None:
        """Asks every instance to end (EVP_SHOULDEXIT); poll pipe_status for STOPPED."""
        self._ok(MsgType.PIPE_STOP, pack_pipe_stop(grace_ms))


def _u16(body: bytes) -> int:
    if len(body) != 2:
        raise MalformedPayload(f"expected 2 bytes, got {len(body)}")
    return int.from_bytes(body, "little")
