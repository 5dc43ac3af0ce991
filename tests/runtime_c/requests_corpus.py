"""The seed corpus of the request fuzzer (runtime_c/core/fuzz/fuzz_requests.c) in
tests/corpus/requests/, built with the Python codecs of the protocol: one valid request sequence
per message family, against the posix target's built-in guests and EVP modules.

Input format of the harness: records `type u8, length u16 LE, payload`; type 0x00 runs the
pipeline scheduler (payload[0] % 8 + 1 turns) instead of sending a request.

Regenerate after a protocol change:  .venv/bin/python -m tests.runtime_c.requests_corpus
"""

from __future__ import annotations

import hashlib
import struct

from build_tools.paths import repo_root
from edge_runtime.protocol.messages import (
    STATS_EXTENDED,
    STATS_RESET_PEAKS,
    Kind,
    MsgType,
    PipeLimits,
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
)

CORPUS_DIR = repo_root() / "tests" / "corpus" / "requests"
RUN = 0x00  # harness pseudo-type: run the pipeline scheduler


def record(mtype: int, payload: bytes = b"") -> bytes:
    return bytes([mtype]) + struct.pack("<H", len(payload)) + payload


def run(turns: int = 8) -> bytes:
    return record(RUN, bytes([turns - 1]))


def _u32(*values: int) -> bytes:
    return b"".join(struct.pack("<I", v) for v in values)


def _seq(*records: bytes) -> bytes:
    return b"".join(records)


def corpus() -> dict[str, bytes]:
    instance = record(MsgType.INSTANTIATE, pack_instantiate("hello"))  # instance 1
    model = bytes(range(64))
    return {
        "pipe.bin": _seq(
            record(MsgType.PIPE_BIND, pack_pipe_bind("src", "evp_source", PipeLimits())),
            record(
                MsgType.PIPE_BIND,
                pack_pipe_bind("snk", "evp_sink", PipeLimits(queue_depth=2, max_restarts=1)),
            ),
            record(MsgType.PIPE_ROUTE, pack_pipe_route("src", False, "out", "t")),
            record(MsgType.PIPE_ROUTE, pack_pipe_route("snk", True, "in", "t")),
            record(MsgType.PIPE_CONFIG, pack_pipe_config("src", "count", b"3")),
            record(MsgType.PIPE_START),
            run(),
            run(),
            record(MsgType.PIPE_PUBLISH, pack_pipe_publish("t", b"hi")),
            record(MsgType.PIPE_PUBLISH, pack_pipe_publish("t", b"part", more=True)),
            run(),
            record(MsgType.PIPE_POLL),
            record(MsgType.PIPE_STATUS, b"\x00"),
            record(MsgType.PIPE_STOP, pack_pipe_stop(10)),
            run(),
            record(MsgType.PIPE_STATUS, b"\x00"),
        ),
        "pipe_probe.bin": _seq(
            record(MsgType.PIPE_BIND, pack_pipe_bind("probe", "evp_probe", PipeLimits())),
            record(MsgType.PIPE_ROUTE, pack_pipe_route("probe", False, "loop", "self")),
            record(MsgType.PIPE_ROUTE, pack_pipe_route("probe", True, "loop", "self")),
            record(MsgType.PIPE_CONFIG, pack_pipe_config("probe", "some-topic", b"value")),
            record(MsgType.PIPE_START),
            run(),
            record(MsgType.PIPE_POLL),
            record(MsgType.PIPE_STOP, pack_pipe_stop(0)),
            run(),
        ),
        # Regression (found by this fuzzer): binding a module that is not an EVP module read
        # the instance's module after destroying the instance (heap-use-after-free in req_bind).
        "pipe_bind_not_evp.bin": _seq(
            record(MsgType.PIPE_BIND, pack_pipe_bind("snk", "nn_probe", PipeLimits())),
            record(MsgType.PIPE_BIND, pack_pipe_bind("snk", "evp_sink", PipeLimits())),
            record(MsgType.PIPE_STATUS, b"\x00"),
        ),
        "args.bin": _seq(
            instance,
            record(MsgType.ARGS, pack_args(1, ["prog", "ünï"], ["K=V", "E="])),
            record(MsgType.CALL, pack_call(1, "add", [2, 3])),
            record(MsgType.ARGS, pack_args(1, ["late"], [])),  # after a call: BAD_STATE
        ),
        "frames.bin": _seq(
            record(MsgType.INSTANTIATE, pack_instantiate("image_probe")),
            record(MsgType.FRAME_BEGIN, pack_frame_begin(1, 4, 2, 0)),
            record(MsgType.FRAME_CHUNK, pack_put_chunk(0, bytes(range(5)))),
            record(MsgType.FRAME_CHUNK, pack_put_chunk(5, bytes(3))),
            record(MsgType.FRAME_END),
            record(MsgType.FRAME_BEGIN, pack_frame_begin(1, 2, 2, 1)),
            record(MsgType.FRAME_CHUNK, pack_put_chunk(0, bytes(12))),
            record(MsgType.FRAME_END),
        ),
        "put.bin": _seq(
            record(
                MsgType.PUT_BEGIN,
                pack_put_begin(Kind.MODEL, "up.tflite", len(model), hashlib.sha256(model).digest()),
            ),
            record(MsgType.PUT_CHUNK, pack_put_chunk(0, model[:40])),
            record(MsgType.PUT_CHUNK, pack_put_chunk(40, model[40:])),
            record(MsgType.PUT_END),
            record(MsgType.LIST, b"\x00\x00"),
        ),
        "calls.bin": _seq(
            instance,
            record(MsgType.CALL, pack_call(1, "add", [2, 3])),
            record(MsgType.MEM_WRITE, _u32(1, 16) + b"hello\n"),
            record(MsgType.MEM_READ, _u32(1, 16) + b"\x06\x00"),
            record(MsgType.CALL, pack_call(1, "checksum", [16, 6])),
            record(MsgType.CALL, pack_call(1, "say_hello", [2])),
            record(MsgType.LOGS, _u32(1)),
            record(MsgType.CALL, pack_call(1, "trap", [])),
            record(MsgType.DROP, _u32(1)),
        ),
        "stats.bin": _seq(
            record(MsgType.HELLO),
            record(MsgType.STATS, pack_stats(STATS_EXTENDED | STATS_RESET_PEAKS)),
            record(MsgType.RESET),
            record(MsgType.STATS),
        ),
    }


def main() -> None:
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (CORPUS_DIR / name).write_bytes(data)
        print(f"{CORPUS_DIR / name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
