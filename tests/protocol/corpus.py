"""The seed corpus for the libFuzzer harness (tests/corpus/frames/), generated from the Python
side of the protocol so that every seed is a valid request sequence that reaches the handlers.

Regenerate after a protocol change:  .venv/bin/python -m tests.protocol.corpus
"""

from __future__ import annotations

import hashlib
import struct

from build_tools.paths import repo_root
from edge_runtime.protocol.framing import Frame, encode_frame
from edge_runtime.protocol.messages import (
    Kind,
    MsgType,
    pack_args,
    pack_call,
    pack_frame_begin,
    pack_instantiate,
    pack_put_begin,
    pack_put_chunk,
)

CORPUS_DIR = repo_root() / "tests" / "corpus" / "frames"
MODULE = b"\x00asm\x01\x00\x00\x00"


def _wire(requests: list[tuple[MsgType, bytes]], seq: int = 1) -> bytes:
    return b"".join(encode_frame(Frame(t, 0, seq + i, p)) for i, (t, p) in enumerate(requests))


def _upload(name: str, data: bytes, kind: Kind = Kind.MODULE) -> list[tuple[MsgType, bytes]]:
    return [
        (MsgType.PUT_BEGIN, pack_put_begin(kind, name, len(data), hashlib.sha256(data).digest())),
        (MsgType.PUT_CHUNK, pack_put_chunk(0, data)),
        (MsgType.PUT_END, b""),
    ]


def _inst(n: int) -> bytes:
    return struct.pack("<I", n)


def corpus() -> dict[str, bytes]:
    with_instance = [*_upload("g", MODULE), (MsgType.INSTANTIATE, pack_instantiate("g"))]
    hello = encode_frame(Frame(MsgType.HELLO, 0, 1, b""))
    return {
        "hello.bin": hello,
        "upload.bin": _wire([*_upload("net.tflite", bytes(range(200)), Kind.MODEL)]),
        "upload_bad_sha.bin": _wire(
            [
                (MsgType.PUT_BEGIN, pack_put_begin(Kind.MODEL, "m", 3, bytes(32))),
                (MsgType.PUT_CHUNK, pack_put_chunk(0, b"abc")),
                (MsgType.PUT_END, b""),
            ]
        ),
        "list.bin": _wire([*_upload("a", b"1"), *_upload("b", b"22"), (MsgType.LIST, b"\x00\x00")]),
        "calls.bin": _wire(
            [
                *with_instance,
                (MsgType.CALL, pack_call(1, "add", [2, 3])),
                (MsgType.CALL, pack_call(1, "trap", [])),
                (MsgType.CALL, pack_call(1, "exit", [4])),
                (MsgType.DROP, _inst(1)),
            ]
        ),
        "memory.bin": _wire(
            [
                *with_instance,
                (MsgType.MEM_WRITE, _inst(1) + _inst(16) + b"hello\n"),
                (MsgType.MEM_READ, _inst(1) + _inst(16) + b"\x06\x00"),
                (MsgType.CALL, pack_call(1, "print", [16, 6])),
                (MsgType.LOGS, _inst(1)),
                (MsgType.MEM_READ, _inst(1) + _inst(0xFFFFFFFF) + b"\x02\x00"),
            ]
        ),
        "stats_reset.bin": _wire(
            [(MsgType.STATS, b""), (MsgType.RESET, b""), (MsgType.HELLO, b"")]
        ),
        # ARGS and FRAME_* (parsed by the dispatcher even where the core does not take them)
        "args.bin": _wire(
            [
                *with_instance,
                (MsgType.ARGS, pack_args(1, ["prog", "ünï"], ["K=V", "E="])),
                (MsgType.ARGS, _inst(1) + b"\x01\x02\xc3\x28\x00"),  # not UTF-8
                (MsgType.ARGS, _inst(1) + b"\x00\x01\x02=V"),  # no key
            ]
        ),
        "frames.bin": _wire(
            [
                *with_instance,
                (MsgType.FRAME_BEGIN, pack_frame_begin(1, 4, 2, 0)),
                (MsgType.FRAME_CHUNK, pack_put_chunk(0, bytes(range(5)))),
                (MsgType.FRAME_CHUNK, pack_put_chunk(5, bytes(3))),
                (MsgType.FRAME_END, b""),
            ]
        ),
        "duplicate.bin": hello + hello + b"\x00garbage\x00" + hello[:-3] + hello,
        "unknown.bin": _wire([(0x7F, b"xyz"), (MsgType.CALL, b"\x01")]),  # type: ignore[list-item]
    }


def main() -> None:
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (CORPUS_DIR / name).write_bytes(data)
        print(f"{CORPUS_DIR / name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
