"""COBS framing with 0x00 delimiters, header and CRC-32 (docs/protocol.md sections 1-2)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import Enum

MAGIC = 0x57
VERSION = 1
FLAG_RESPONSE = 0x01
HEADER = struct.Struct("<BBBBHH")  # magic, version, type, flags, seq, length
HEADER_SIZE = HEADER.size
CRC_SIZE = 4
MAX_PAYLOAD = 1024  # this host's limit; the device's comes from HELLO


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode data: the result contains no 0x00 (no delimiter added)."""
    out = bytearray([0])
    code_pos, code = 0, 1
    for i, byte in enumerate(data):
        if byte == 0:
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
            continue
        out.append(byte)
        code += 1
        # A full block opens a new one only if more input follows (no trailing 0x01).
        if code == 0xFF and i + 1 < len(data):
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
    out[code_pos] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (no delimiters); ValueError if malformed."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside a COBS frame")
        end = i + code
        if end > len(data):
            raise ValueError("truncated COBS block")
        block = data[i + 1 : end]
        if 0 in block:
            raise ValueError("zero byte inside a COBS frame")
        out += block
        i = end
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    flags: int
    seq: int
    payload: bytes
    version: int = VERSION

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)


def frame_body(frame: Frame) -> bytes:
    """Header + payload + CRC, before COBS."""
    head = HEADER.pack(
        MAGIC, frame.version, frame.type, frame.flags, frame.seq & 0xFFFF, len(frame.payload)
    )
    body = head + frame.payload
    return body + struct.pack("<I", zlib.crc32(body))


def encode_frame(frame: Frame, max_payload: int = MAX_PAYLOAD) -> bytes:
    """The bytes to put on the wire: 0x00, COBS(body), 0x00."""
    if len(frame.payload) > max_payload:
        raise ValueError(f"payload of {len(frame.payload)} bytes exceeds {max_payload}")
    return b"\x00" + cobs_encode(frame_body(frame)) + b"\x00"


class FrameError(Enum):
    BAD_CRC = "bad_crc"
    BAD_FRAME = "bad_frame"


def parse_body(body: bytes, max_payload: int = MAX_PAYLOAD) -> Frame | FrameError:
    """Check and split a decoded frame body."""
    if len(body) < HEADER_SIZE + CRC_SIZE or len(body) > HEADER_SIZE + max_payload + CRC_SIZE:
        return FrameError.BAD_FRAME
    (crc,) = struct.unpack_from("<I", body, len(body) - CRC_SIZE)
    if zlib.crc32(body[:-CRC_SIZE]) != crc:
        return FrameError.BAD_CRC
    magic, version, mtype, flags, seq, length = HEADER.unpack_from(body)
    if magic != MAGIC or length != len(body) - HEADER_SIZE - CRC_SIZE:
        return FrameError.BAD_FRAME
    return Frame(mtype, flags, seq, bytes(body[HEADER_SIZE:-CRC_SIZE]), version)


class FrameDecoder:
    """Incremental decoder: feed any chunks of bytes, get frames and errors in order."""

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self._limit = len(cobs_encode(bytes(HEADER_SIZE + max_payload + CRC_SIZE)))
        self._overflow = False
        self.counts = {e: 0 for e in FrameError}

    def reset(self) -> None:
        """Forget a partial frame (after a timeout, the next bytes start afresh)."""
        self._buf.clear()
        self._overflow = False

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        start = 0
        while True:
            end = data.find(b"\x00", start)
            if end < 0:
                self._append(data[start:])
                return out
            self._append(data[start:end])
            result = self._finish()
            if result is not None:
                if isinstance(result, FrameError):
                    self.counts[result] += 1
                out.append(result)
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            return
        self._buf += chunk
        if len(self._buf) > self._limit:  # too long to be a frame: skip to the next delimiter
            self._overflow = True
            self._buf.clear()

    def _finish(self) -> Frame | FrameError | None:
        raw, overflow = bytes(self._buf), self._overflow
        self.reset()
        if overflow:
            return FrameError.BAD_FRAME
        if not raw:
            return None  # empty frame between delimiters
        try:
            body = cobs_decode(raw)
        except ValueError:
            return FrameError.BAD_FRAME
        return parse_body(body, self.max_payload)
