"""Host-side framing and message structs: round trips, published vectors, corruption."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from edge_runtime.protocol.framing import (
    Frame,
    FrameDecoder,
    FrameError,
    cobs_decode,
    cobs_encode,
    encode_frame,
)
from edge_runtime.protocol.messages import (
    CallOutcome,
    Kind,
    MsgType,
    pack_call,
    pack_instantiate,
    pack_put_begin,
    unpack_call,
    unpack_hello,
)

SEQ = bytes(range(1, 256))

# Examples from the COBS paper / its Wikipedia article: (decoded, encoded without delimiter).
COBS_VECTORS = [
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (SEQ[:254], b"\xff" + SEQ[:254]),
    (b"\x00" + SEQ[:254], b"\x01\xff" + SEQ[:254]),
    (SEQ, b"\xff" + SEQ[:254] + b"\x02\xff"),
    (SEQ[1:] + b"\x00", b"\xff" + SEQ[1:] + b"\x01\x01"),
    (SEQ[2:] + b"\x00\x01", b"\xfe" + SEQ[2:] + b"\x02\x01"),
]


@pytest.mark.parametrize(("plain", "encoded"), COBS_VECTORS)
def test_cobs_published_vectors(plain: bytes, encoded: bytes) -> None:
    assert cobs_encode(plain) == encoded
    assert cobs_decode(encoded) == plain


def test_crc_is_ieee_check_value() -> None:
    # The CRC-32/ISO-HDLC check value of "123456789" from the CRC catalogue.
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_frame_layout_by_hand() -> None:
    wire = encode_frame(Frame(MsgType.CALL, 0, 0x1234, b"\xaa\xbb"))
    body = bytes([0x57, 1, 0x32, 0]) + b"\x34\x12" + b"\x02\x00" + b"\xaa\xbb"
    body += struct.pack("<I", zlib.crc32(body))
    # The body has no zero after the length field: COBS blocks split at its two zeros.
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert cobs_decode(wire[1:-1]) == body


def random_frame(rng: random.Random, max_payload: int = 1024) -> Frame:
    n = rng.choice([0, 1, 2, 253, 254, 255, 1023, 1024, rng.randrange(max_payload + 1)])
    payload = bytes(rng.choice([0, 1, 0xFF, rng.randrange(256)]) for _ in range(n))
    return Frame(rng.randrange(256), rng.randrange(2), rng.randrange(0x10000), payload)


def test_round_trip_random_frames_bulk_and_bytewise() -> None:
    rng = random.Random(1)
    frames = [random_frame(rng) for _ in range(200)]
    wire = b"".join(encode_frame(f) for f in frames)
    assert FrameDecoder().feed(wire) == frames
    dec = FrameDecoder()
    got = [x for i in range(len(wire)) for x in dec.feed(wire[i : i + 1])]
    assert got == frames


def test_worst_case_wire_size() -> None:
    frame = Frame(1, 0, 0xFFFF, bytes([0xFF]) * 1024)
    assert len(encode_frame(frame)) == 1036 + 5 + 2
    with pytest.raises(ValueError, match="exceeds 1024"):
        encode_frame(Frame(1, 0, 0, bytes(1025)))


@pytest.mark.parametrize("payload_len", [0, 5, 300])
def test_every_single_bit_flip_is_detected(payload_len: int) -> None:
    rng = random.Random(payload_len)
    good = Frame(MsgType.CALL, 0, 77, bytes(rng.randrange(256) for _ in range(payload_len)))
    wire = encode_frame(good)
    marker = Frame(MsgType.HELLO, 0, 78, b"")
    for bit in range(len(wire) * 8):
        bad = bytearray(wire)
        bad[bit // 8] ^= 1 << (bit % 8)
        out = FrameDecoder().feed(bytes(bad) + encode_frame(marker))
        frames = [x for x in out if isinstance(x, Frame)]
        assert frames == [marker], f"bit {bit}: {out}"


def test_truncated_frames_never_decode() -> None:
    wire = encode_frame(Frame(MsgType.PUT_CHUNK, 0, 9, bytes(range(200))))
    for cut in range(2, len(wire) - 1):  # wire[:1] is only the leading delimiter
        out = FrameDecoder().feed(wire[:cut] + b"\x00")
        assert all(isinstance(x, FrameError) for x in out), cut
        assert len(out) == 1


def test_garbage_between_frames_resynchronises() -> None:
    rng = random.Random(7)
    frames = [random_frame(rng, 300) for _ in range(100)]
    stream = bytearray()
    for f in frames:
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(60)))
        stream += encode_frame(f)
    out = FrameDecoder().feed(bytes(stream))
    assert [x for x in out if isinstance(x, Frame)] == frames


def test_oversized_frame_is_dropped_and_decoder_recovers() -> None:
    dec = FrameDecoder(max_payload=1024)
    big = encode_frame(Frame(1, 0, 1, bytes(2000)), max_payload=4096)
    good = Frame(1, 0, 2, b"x")
    assert dec.feed(big + encode_frame(good)) == [FrameError.BAD_FRAME, good]
    assert dec.counts[FrameError.BAD_FRAME] == 1


def test_message_structs_by_hand() -> None:
    assert pack_call(3, "add", [1, -1]) == (
        b"\x03\x00\x00\x00" + b"\x02" + b"\x03add" + b"\x01\x00\x00\x00" + b"\xff\xff\xff\xff"
    )
    sha = bytes(range(32))
    assert pack_put_begin(Kind.MODEL, "m.tflite", 0x01020304, sha) == (
        b"\x01\x08m.tflite\x04\x03\x02\x01" + sha
    )
    assert pack_instantiate("hello") == b"\x00\x05hello"
    assert pack_instantiate("ab" * 32) == b"\x01" + bytes.fromhex("ab" * 32)
    res = unpack_call(b"\x01\x00" + b"\x00" * 4 + b"\x10\x27\x00\x00" + b"boom")
    assert (res.outcome, res.result, res.elapsed_us, res.message) == (
        CallOutcome.TRAPPED,
        None,
        10000,
        "boom",
    )
    hello = b"\x01\x03\x00\x04" + (409600).to_bytes(4, "little") + (4 << 20).to_bytes(4, "little")
    hello += b"\x02\x00\x01\x00" + b"".join(
        bytes([len(s)]) + s for s in [b"r", b"1", b"e", b"n", b"t"]
    )
    info = unpack_hello(hello)
    assert (info.max_payload, info.ram_bytes, info.modules, info.models, info.target) == (
        1024,
        409600,
        2,
        1,
        "t",
    )
    assert info.can_load_modules and info.can_load_models


@pytest.mark.parametrize("bad", ["", "a" * 65, "has space", "slash/name"])
def test_invalid_names_rejected_on_the_host(bad: str) -> None:
    with pytest.raises(ValueError, match="is not 1-64 characters"):
        pack_call(1, bad, [])
