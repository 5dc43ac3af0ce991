"""The C runtime's pipeline executor (docs/pipeline.md section 9) driven over the device
protocol (docs/protocol.md section 4.1) on a real posix runtime process: routing, queues and
backpressure, failures and restarts, bad requests. The rules are docs/pipeline.md sections 2-6,
the same the Python host's tests (tests/deployment/) check."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import Target, with_runtime
from edge_runtime.protocol.client import DeviceClient, DeviceRequestError
from edge_runtime.protocol.messages import (
    CAP_PIPELINES,
    Kind,
    MsgType,
    PipeInstanceStatus,
    PipeLimits,
    PipeRecordKind,
    PipeState,
    Status,
    pack_call,
    pack_pipe_bind,
    pack_pipe_config,
    pack_pipe_publish,
    pack_pipe_route,
    pack_pipe_stop,
    pack_str,
)
from edge_runtime.protocol.streams import ProcessStream
from tests.deployment.test_evp_sdk import EXPECTED

from .conftest import alive, require_tools
from .pipe_device import Pipe, evp_modules, sdk_edge_cases, source_to_sink


@pytest.fixture(scope="module")
def modules(posix_target: Target) -> dict[str, Path]:
    require_tools()
    return evp_modules(posix_target)


def _open(runtime: RuntimeImage) -> Iterator[Pipe]:
    stream = ProcessStream([str(runtime.binary)])
    client = DeviceClient(stream, "posix")
    try:
        assert client.hello().capabilities & CAP_PIPELINES
        yield Pipe(client)
    finally:
        stream.close()
        assert stream.poll() == 0, stream.stderr_text()
        assert not alive(stream.pid) or stream.poll() is not None


@pytest.fixture(params=["wasm2c", "wamr"])
def pipe(request: pytest.FixtureRequest) -> Iterator[Pipe]:
    """Both engines: WAMR loads the uploaded modules, the wasm2c build has them compiled in
    (guests.evp_modules; the upload answers PRESENT)."""
    runtime = request.getfixturevalue(
        "posix_runtime" if request.param == "wasm2c" else "posix_wamr_runtime"
    )
    yield from _open(runtime)


def test_source_to_sink_then_stop(pipe: Pipe, modules: dict[str, Path]) -> None:
    pipe.upload(modules, "evp_source", "evp_sink")  # (source_to_sink's upload: PRESENT)
    heap_before = pipe.client.stats().heap_in_use
    source_to_sink(pipe, modules)
    st = pipe.stop()
    assert [i.status for i in st.instances] == [PipeInstanceStatus.STOPPED] * 2
    # both mains returned on EVP_SHOULDEXIT; the sink reported at exit
    assert pipe.state("snk", "received") == "n=5 topic=in last=4"
    assert ("snk", "received", b"5") in [(r.instance, r.key, r.value) for r in pipe.records]
    assert pipe.output("snk") == pipe.output("src") == b""  # they print nothing
    # the instances are gone with their memory (the status tables stay until the next
    # deployment or RESET): a new deployment may be bound
    assert pipe.client.stats().heap_in_use - heap_before < 16 * 1024
    pipe.bind("again", "evp_sink")
    assert pipe.status().state is PipeState.BINDING


def test_stop_before_start_drops_what_is_bound(pipe: Pipe, modules: dict[str, Path]) -> None:
    # A deployment that failed while being applied (an instance refused after others were
    # bound) is never started: PIPE_STOP drops what is bound, so the next one can be applied.
    pipe.upload(modules, "evp_source", "evp_sink")
    heap_before = pipe.client.stats().heap_in_use
    pipe.bind("src", "evp_source")
    pipe.publish_route("src", "out", "t")
    pipe.config("src", "count", "9")
    assert pipe.status().state is PipeState.BINDING
    pipe.ok(MsgType.PIPE_STOP, pack_pipe_stop(0))
    st = pipe.status()
    assert (st.state, st.instances) == (PipeState.EMPTY, [])
    assert pipe.client.stats().heap_in_use == heap_before
    source_to_sink(pipe, modules, count=3)  # the same names bind again; its own config


def test_sdk_edge_cases_match_the_abi(pipe: Pipe, modules: dict[str, Path]) -> None:
    sdk_edge_cases(pipe, modules, EXPECTED)


def test_routing_own_alias_fan_out_and_cycle(pipe: Pipe, modules: dict[str, Path]) -> None:
    pipe.upload(modules, "evp_source", "evp_sink")
    pipe.bind("src", "evp_source")
    pipe.bind("left", "evp_sink")
    pipe.bind("twice", "evp_sink")
    pipe.bind("loop", "evp_sink")
    pipe.publish_route("src", "out", "t")
    pipe.subscribe_route("left", "from-src", "t")
    pipe.subscribe_route("twice", "a", "t")  # two aliases on one topic: two deliveries
    pipe.subscribe_route("twice", "b", "t")
    # loop forwards what it gets back to its own topic, tagged, while shorter than 4 bytes
    pipe.subscribe_route("loop", "in", "t")
    pipe.subscribe_route("loop", "back", "ring")
    pipe.publish_route("loop", "fwd", "ring")
    pipe.config("loop", "forward_to", "fwd")
    pipe.config("loop", "tag", "x")
    pipe.config("loop", "max_len", "4")
    pipe.config("src", "count", "1")
    pipe.start()
    pipe.wait_state("src", "progress", "sent=1 acked=1")
    assert pipe.wait_state("left", "received", "n=1") == "n=1 topic=from-src last=0"
    assert pipe.wait_state("twice", "received", "n=2").startswith("n=2 topic=")
    # "0" from src, then "0x", "0xx", "0xxx" around the ring ("0xxxx" is not forwarded)
    assert pipe.wait_state("loop", "received", "n=4") == "n=4 topic=back last=0xxx"
    time.sleep(0.2)
    assert pipe.instance("loop").received == 4
    assert pipe.instance("twice").received == 2
    assert pipe.instance("loop").sent == 3


def test_backpressure_denies_sends_nothing_lost(pipe: Pipe, modules: dict[str, Path]) -> None:
    """Two sources into a one-slot queue whose consumer is slow: a send waits sendTimeoutMs
    for space, then returns EVP_DENIED and queues nothing; the sources retry, so every message
    arrives exactly once."""
    pipe.upload(modules, "evp_source", "evp_sink")
    pipe.bind("slow", "evp_sink", PipeLimits(queue_depth=1, send_timeout_ms=5))
    for src in ("src1", "src2"):
        pipe.bind(src, "evp_source")
        pipe.publish_route(src, "out", "t")
        pipe.config(src, "count", "10")
    pipe.subscribe_route("slow", "in", "t")
    pipe.config("slow", "delay_ms", "20")
    pipe.start()
    denied = 0
    for src in ("src1", "src2"):
        progress = pipe.wait_state(src, "progress", "sent=")
        assert progress.startswith("sent=10 acked=10 errors=0 denied="), progress
        denied += int(progress.rsplit("=", 1)[1])
        assert pipe.instance(src).denied == int(progress.rsplit("=", 1)[1])
    assert denied > 0
    pipe.wait_state("slow", "received", "n=20 ")
    slow = pipe.instance("slow")
    assert (slow.received, slow.queue_high_water, slow.dropped) == (20, 1, 0)


def test_external_publish_busy_when_a_queue_is_full(pipe: Pipe, modules: dict[str, Path]) -> None:
    """PIPE_PUBLISH is all-or-nothing too: BUSY while a receiver cannot take every delivery
    (here: two aliases on the topic, two slots), accepted once it drained; a payload larger
    than a frame arrives in parts."""
    pipe.upload(modules, "evp_sink")
    pipe.bind("pair", "evp_sink", PipeLimits(queue_depth=2))
    pipe.subscribe_route("pair", "a", "t")
    pipe.subscribe_route("pair", "b", "t")
    pipe.config("pair", "delay_ms", "30")
    pipe.start()
    busy = ok = 0
    for i in range(12):
        status, body = pipe.publish("t", f"ext{i}".encode())
        if status is Status.BUSY:
            busy += 1
            assert body.decode() == "queue of 'pair' is full: send again later"
        else:
            assert (status, body) == (Status.OK, b"\x02\x00")  # two deliveries
            ok += 1
    assert busy > 0 and ok > 0
    pipe.wait_state("pair", "received", f"n={2 * ok} ")
    assert pipe.instance("pair").queue_high_water == 2
    assert pipe.publish("nobody", b"x") == (Status.OK, b"\x00\x00")
    big = bytes(range(256)) * 12
    for off in range(0, 3000, 1000):
        body = pipe.ok(MsgType.PIPE_PUBLISH, pack_pipe_publish("t", big[off : off + 1000], True))
        assert int.from_bytes(body, "little") == off + 1000
    pipe.expect(MsgType.PIPE_PUBLISH, pack_pipe_publish("u", b"x"), Status.BAD_REQUEST)
    while pipe.publish("t", big[3000:])[0] is Status.BUSY:
        time.sleep(0.02)
    pipe.wait_state("pair", "received", f"n={2 * ok + 2} ")


def test_crashing_instance_restarts_while_another_keeps_running(
    pipe: Pipe, modules: dict[str, Path]
) -> None:
    pipe.upload(modules, "evp_source", "evp_sink")
    pipe.bind("src", "evp_source")
    pipe.bind("steady", "evp_sink")
    pipe.bind("flaky", "evp_sink", PipeLimits(max_restarts=1))
    pipe.publish_route("src", "out", "t")
    pipe.subscribe_route("steady", "in", "t")
    pipe.subscribe_route("flaky", "in", "t")
    pipe.config("flaky", "crash_at", "2")
    pipe.config("src", "count", "6")
    pipe.start()
    assert pipe.wait_state("steady", "received", "n=6 ") == "n=6 topic=in last=5"
    deadline = time.monotonic() + 10
    while pipe.instance("flaky").status is not PipeInstanceStatus.ERROR:  # gave up
        assert time.monotonic() < deadline, pipe.status()
        time.sleep(0.02)
    flaky = pipe.instance("flaky")
    # life 1 got "0" and trapped on "1"; life 2 (configuration delivered again) got "2" and
    # trapped on "3"; then it stays in error and what is sent to it is dropped. Received counts
    # the callbacks that returned ("0" and "2"), as on the host.
    # the trap text is the engine's (WAMR "unreachable", wasm2c "Unreachable instruction ...")
    assert re.fullmatch(
        r"message callback: trap: [Uu]nreachable.* \(gave up after 1 restarts\)",
        flaky.failure_message,
    ), flaky.failure_message
    assert (flaky.status.evp, flaky.restarts, flaky.received) == ("error", 1, 2)
    assert (flaky.instance_id, flaky.queue_len, flaky.dropped) == (0, 0, 2)
    assert pipe.instance("steady").status.evp == "ok"
    pipe.poll()  # every record so far, in order, is in pipe.records
    statuses = [
        (r.status, r.restarts, r.value)
        for r in pipe.records
        if r.kind is PipeRecordKind.STATUS and r.instance == "flaky"
    ]
    # the first failure waits for its restart (RESTARTING), the second is for good (ERROR)
    assert [(st, n) for st, n, _ in statuses if st is not PipeInstanceStatus.OK] == [
        (PipeInstanceStatus.RESTARTING, 1),
        (PipeInstanceStatus.ERROR, 1),
    ]
    assert (PipeInstanceStatus.OK, 1, b"") in statuses


def test_handler_time_limit_ends_the_instance(pipe: Pipe, modules: dict[str, Path]) -> None:
    pipe.upload(modules, "evp_source", "evp_sink")
    pipe.bind("busy", "evp_sink", PipeLimits(handler_timeout_ms=100, max_restarts=0))
    pipe.bind("src", "evp_source")
    pipe.publish_route("src", "out", "t")
    pipe.subscribe_route("busy", "in", "t")
    pipe.config("busy", "delay_ms", "400")
    pipe.config("src", "count", "1")
    pipe.start()
    deadline = time.monotonic() + 10
    while pipe.instance("busy").status is not PipeInstanceStatus.ERROR:
        assert time.monotonic() < deadline, pipe.status()
        time.sleep(0.02)
    assert pipe.instance("busy").failure_message == (
        "message callback: timeout: call exceeded 100 ms (gave up after 0 restarts)"
    )


def test_bad_requests_answered_and_device_keeps_serving(
    pipe: Pipe, modules: dict[str, Path]
) -> None:
    pipe.upload(modules, "evp_sink")
    c = pipe.client
    heap_before = c.stats().heap_in_use
    # before anything is bound
    pipe.expect(MsgType.PIPE_START, b"", Status.BAD_STATE)
    pipe.expect(MsgType.PIPE_PUBLISH, pack_pipe_publish("t", b"x"), Status.BAD_STATE)
    assert "no module nope" in pipe.expect(
        MsgType.PIPE_BIND, pack_pipe_bind("a", "nope", PipeLimits()), Status.NOT_FOUND
    )
    iid = pipe.bind("a", "evp_sink")
    assert "already bound" in pipe.expect(
        MsgType.PIPE_BIND, pack_pipe_bind("a", "evp_sink", PipeLimits()), Status.BAD_REQUEST
    )
    pipe.expect(
        MsgType.PIPE_BIND,
        pack_pipe_bind("b", "evp_sink", PipeLimits(queue_depth=65)),
        Status.BAD_REQUEST,
    )
    pipe.expect(MsgType.PIPE_ROUTE, pack_pipe_route("zz", True, "in", "t"), Status.NOT_FOUND)
    # aliases: empty, 65 bytes, a NUL inside; a direction other than 0/1; trailing bytes
    for alias in (b"", b"a" * 65, b"a\x00b"):
        raw = pack_str("a") + b"\x01" + bytes([len(alias)]) + alias + b"\x01t"
        pipe.expect(MsgType.PIPE_ROUTE, raw, Status.BAD_REQUEST)
    pipe.expect(MsgType.PIPE_ROUTE, pack_str("a") + b"\x02\x01a\x01t", Status.BAD_REQUEST)
    pipe.expect(
        MsgType.PIPE_ROUTE, pack_pipe_route("a", True, "in", "t") + b"!", Status.BAD_REQUEST
    )
    pipe.subscribe_route("a", "in", "t")
    assert "already routed" in pipe.expect(
        MsgType.PIPE_ROUTE, pack_pipe_route("a", True, "in", "u"), Status.BAD_REQUEST
    )
    for i in range(31):
        pipe.publish_route("a", f"p{i}", "t")
    assert "too many routes" in pipe.expect(
        MsgType.PIPE_ROUTE, pack_pipe_route("a", False, "one-more", "t"), Status.NO_SPACE
    )
    for i in range(16):
        pipe.config("a", f"k{i}", "v")
    assert "too many configuration values" in pipe.expect(
        MsgType.PIPE_CONFIG, pack_pipe_config("a", "k16", b"v"), Status.NO_SPACE
    )
    # the deployment's instance is not for DROP or CALL
    pipe.expect(MsgType.DROP, struct.pack("<I", iid), Status.BUSY)
    assert "runs in the deployment" in pipe.expect(
        MsgType.CALL, pack_call(iid, "malloc", [4]), Status.BUSY
    )
    pipe.start()
    pipe.expect(
        MsgType.PIPE_BIND, pack_pipe_bind("late", "evp_sink", PipeLimits()), Status.BAD_STATE
    )
    pipe.expect(MsgType.PIPE_ROUTE, pack_pipe_route("a", True, "x", "t"), Status.BAD_STATE)
    pipe.expect(MsgType.PIPE_STATUS, b"", Status.BAD_REQUEST)
    pipe.expect(0x7F, b"", Status.UNKNOWN_TYPE)  # type: ignore[arg-type]
    assert c.hello().capabilities & CAP_PIPELINES
    assert pipe.publish("t", b"hello")[0] is Status.OK
    assert pipe.wait_state("a", "received", "n=1") == "n=1 topic=in last=hello"
    # RESET ends the deployment at once and frees it
    c.reset()
    c.hello()
    assert pipe.status().state is PipeState.EMPTY
    assert c.stats().heap_in_use == heap_before  # everything the deployment held is freed


def test_wasm2c_runs_only_compiled_in_evp_modules(
    posix_runtime: RuntimeImage, modules: dict[str, Path]
) -> None:
    for pipe in _open(posix_runtime):
        c = pipe.client
        with pytest.raises(DeviceRequestError, match="cannot load modules at run time"):
            c.put(Kind.MODULE, "plate_locate", modules["plate_locate"].read_bytes())
        assert c.put(Kind.MODULE, "evp_sink", modules["evp_sink"].read_bytes()) is False
        text = pipe.expect(
            MsgType.PIPE_BIND, pack_pipe_bind("r", "hello", PipeLimits()), Status.BAD_REQUEST
        )
        assert (
            text == "module hello is not an EVP module: needs the exports _start, malloc and free"
        )


@pytest.mark.parametrize("engine", ["wasm2c", "wamr"])
def test_pipelines_under_asan_and_ubsan(
    engine: str, posix_target: Target, modules: dict[str, Path]
) -> None:
    """The task switches (ucontext with ASan's fiber annotations), restarts and a RESET with
    tasks suspended, under the sanitizers; the process must exit cleanly (no leak, no report)."""
    require_tools()
    runtime = CMakeBuilder().build(with_runtime(posix_target, engine=engine), sanitize=True)
    for pipe in _open(runtime):
        source_to_sink(pipe, modules)
        pipe.stop()
        pipe.bind("flaky", "evp_sink", PipeLimits(max_restarts=1))
        pipe.bind("src", "evp_source")
        pipe.publish_route("src", "out", "t")
        pipe.subscribe_route("flaky", "in", "t")
        pipe.config("flaky", "crash_at", "1")
        pipe.config("src", "count", "3")
        pipe.start()
        deadline = time.monotonic() + 20
        while pipe.instance("flaky").restarts < 1:
            assert time.monotonic() < deadline, pipe.status()
            time.sleep(0.05)
        pipe.client.reset()  # tasks suspended in EVP calls end at once
        pipe.client.hello()
        pipe.bind("dropped", "evp_sink")
        pipe.subscribe_route("dropped", "in", "t")
        pipe.config("dropped", "crash_at", "1")
        pipe.ok(MsgType.PIPE_STOP, pack_pipe_stop(0))  # bound, never started: all freed
        assert pipe.status().state is PipeState.EMPTY
