"""A small driver of the device's pipeline messages (docs/protocol.md section 4.1) for the
tests and the bench: raw `DeviceClient.request` calls and the messages.py codecs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from build_tools.guests import build_evp_modules
from build_tools.targets import Target
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import (
    Kind,
    MsgType,
    PipeInstanceInfo,
    PipeLimits,
    PipeRecord,
    PipeState,
    PipeStatus,
    Status,
    pack_pipe_bind,
    pack_pipe_config,
    pack_pipe_publish,
    pack_pipe_route,
    pack_pipe_stop,
    unpack_pipe_poll,
    unpack_pipe_status,
    unpack_u32,
)


class PipeRequestFailed(AssertionError):
    def __init__(self, mtype: MsgType, status: Status, text: str) -> None:
        super().__init__(f"{mtype.name}: {status.name}: {text}")
        self.status = status
        self.text = text


def evp_modules(target: Target) -> dict[str, Path]:
    return build_evp_modules(target)


@dataclass
class Pipe:
    """The device's deployment, driven request by request."""

    client: DeviceClient
    records: list[PipeRecord] = field(default_factory=list)

    def ok(self, mtype: MsgType, payload: bytes = b"") -> bytes:
        status, body = self.client.request(mtype, payload)
        if status is not Status.OK:
            raise PipeRequestFailed(mtype, status, body.decode("utf-8", "replace"))
        return body

    def expect(self, mtype: MsgType, payload: bytes, status: Status) -> str:
        got, body = self.client.request(mtype, payload)
        text = body.decode("utf-8", "replace")
        assert got is status, f"{mtype.name}: expected {status.name}, got {got.name}: {text}"
        return text

    def upload(self, modules: dict[str, Path], *names: str) -> None:
        for name in names:
            self.client.put(Kind.MODULE, name, modules[name].read_bytes())

    def bind(self, instance: str, module: str, limits: PipeLimits | None = None) -> int:
        body = self.ok(MsgType.PIPE_BIND, pack_pipe_bind(instance, module, limits or PipeLimits()))
        return unpack_u32(body)

    def publish_route(self, instance: str, alias: str, topic: str) -> None:
        self.ok(MsgType.PIPE_ROUTE, pack_pipe_route(instance, False, alias, topic))

    def subscribe_route(self, instance: str, alias: str, topic: str) -> None:
        self.ok(MsgType.PIPE_ROUTE, pack_pipe_route(instance, True, alias, topic))

    def config(self, instance: str, topic: str, value: str) -> None:
        self.ok(MsgType.PIPE_CONFIG, pack_pipe_config(instance, topic, value.encode()))

    def start(self) -> int:
        return self.ok(MsgType.PIPE_START)[0]

    def publish(self, topic: str, payload: bytes) -> tuple[Status, bytes]:
        return self.client.request(MsgType.PIPE_PUBLISH, pack_pipe_publish(topic, payload))

    def poll(self) -> list[PipeRecord]:
        out = []
        while True:
            more, records = unpack_pipe_poll(self.ok(MsgType.PIPE_POLL))
            out += records
            if not more:
                break
        self.records += out
        return out

    def status(self) -> PipeStatus:
        infos: list[PipeInstanceInfo] = []
        while True:
            st = unpack_pipe_status(self.ok(MsgType.PIPE_STATUS, bytes([len(infos)])))
            infos += st.instances
            if not st.more:
                return PipeStatus(st.state, False, st.outbox_dropped, infos)

    def instance(self, name: str) -> PipeInstanceInfo:
        return next(i for i in self.status().instances if i.instance == name)

    def state(self, instance: str, topic: str) -> str | None:
        """The latest state value an instance reported on topic (polls first)."""
        self.poll()
        values = [
            r.value.decode()
            for r in self.records
            if r.kind == 0 and r.instance == instance and r.key == topic
        ]
        return values[-1] if values else None

    def output(self, instance: str) -> bytes:
        """What the instance printed so far (LOG records)."""
        self.poll()
        return b"".join(r.value for r in self.records if r.kind == 3 and r.instance == instance)

    def wait_state(self, instance: str, topic: str, prefix: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.state(instance, topic)
            if last is not None and last.startswith(prefix):
                return last
            time.sleep(0.02)
        raise AssertionError(f"{instance} state {topic!r}: {last!r}, wanted {prefix!r}...")

    def stop(self, grace_ms: int = 0, timeout: float = 20.0) -> PipeStatus:
        self.ok(MsgType.PIPE_STOP, pack_pipe_stop(grace_ms))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st.state is PipeState.STOPPED:
                self.poll()
                return st
            time.sleep(0.02)
        raise AssertionError(f"deployment did not stop: {self.status()}")


# ---- scenarios shared by the posix and qemu-rv32 tests ----


def source_to_sink(p: Pipe, modules: dict[str, Path], count: int = 5) -> None:
    """src publishes `count` messages on alias out -> topic t; snk subscribes as alias in."""
    p.upload(modules, "evp_source", "evp_sink")
    p.bind("src", "evp_source")
    p.bind("snk", "evp_sink")
    p.publish_route("src", "out", "t")
    p.subscribe_route("snk", "in", "t")
    p.config("src", "count", str(count))
    assert p.start() == 2
    assert p.wait_state("src", "progress", "sent=") == (
        f"sent={count} acked={count} errors=0 denied=0"
    )
    assert p.wait_state("snk", "received", f"n={count} ") == f"n={count} topic=in last={count - 1}"
    src, snk = p.instance("src"), p.instance("snk")
    assert (src.sent, src.received, snk.received, snk.sent) == (count, 0, count, 0)
    assert src.status.evp == "ok" and snk.status.evp == "ok"
    assert snk.queue_len == 0 and 1 <= snk.queue_high_water <= count
    assert src.memory_bytes >= 64 * 1024 and src.stack_high_water > 0
    telemetry = [r for r in p.records if r.kind == 1]
    assert [(r.instance, r.key, r.value) for r in telemetry] == [
        ("src", "sent", str(count).encode())
    ]


def sdk_edge_cases(p: Pipe, modules: dict[str, Path], expected: dict[str, int]) -> None:
    """evp_probe reports what each SDK call returned; expected is docs/abi.md section 6."""
    p.upload(modules, "evp_probe")
    p.bind("probe", "evp_probe")
    p.publish_route("probe", "loop", "self")
    p.subscribe_route("probe", "loop", "self")
    p.config("probe", "some-topic", "value")
    p.start()
    text = p.wait_state("probe", "results", "handle=")
    got = dict(kv.split("=") for kv in text.strip(";").split(";"))
    assert {k: int(v) for k, v in got.items()} == expected
    telemetry = [(r.instance, r.key, r.value) for r in p.records if r.kind == 1]
    assert telemetry == [("probe", "ok", b'{"a": [1, 2]}')]
    # what main printed (stdout is flushed when main returns) comes back in LOG records
    p.stop()
    assert p.output("probe") == f"results {text}\n".encode()
