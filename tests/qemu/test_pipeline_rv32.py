"""The pipeline executor on the emulated MCU (WAMR firmware, 400 KiB of RAM): EVP modules
uploaded at run time run as cooperative tasks (the assembly context switch of task.S) and
talk through the device's queues, while the host only polls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_tools.devices.qemu_session import QemuSession
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import Target, with_runtime
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import (
    CAP_PIPELINES,
    MsgType,
    PipeInstanceStatus,
    PipeLimits,
    Status,
    pack_pipe_bind,
)
from tests.deployment.test_evp_sdk import EXPECTED
from tests.runtime_c.pipe_device import Pipe, evp_modules, sdk_edge_cases, source_to_sink

from .conftest import require_tools


@pytest.fixture(scope="module")
def wamr_target(qemu_target: Target) -> Target:
    return with_runtime(qemu_target, engine="wamr")


@pytest.fixture(scope="module")
def wamr_elf(wamr_target: Target) -> Path:
    require_tools()
    return CMakeBuilder().build(wamr_target).binary


@pytest.fixture(scope="module")
def modules(wamr_target: Target) -> dict[str, Path]:
    return evp_modules(wamr_target)


@pytest.fixture
def pipe(wamr_elf: Path, tmp_path: Path) -> Iterator[Pipe]:
    with QemuSession(wamr_elf, "qemu-rv32", tmp_path / "qemu.log") as s:
        assert s.stream is not None
        client = DeviceClient(s.stream, "qemu-rv32", timeout=5)
        assert client.hello().capabilities & CAP_PIPELINES
        yield Pipe(client)


def test_source_to_sink_on_rv32_and_the_memory_it_takes(
    pipe: Pipe, modules: dict[str, Path]
) -> None:
    source_to_sink(pipe, modules)
    stats = pipe.client.stats()
    # two instances: 64 KiB linear memory, the WAMR stack and a task stack each, in 400 KiB
    assert 2 * 64 * 1024 < stats.heap_in_use < 400 * 1024
    for info in pipe.status().instances:
        assert info.stack_high_water < 16 * 1024  # limits.task_stack_kib of qemu-rv32
    pipe.stop()
    assert pipe.client.stats().heap_in_use < 100 * 1024


def test_sdk_edge_cases_on_rv32(pipe: Pipe, modules: dict[str, Path]) -> None:
    sdk_edge_cases(pipe, modules, EXPECTED)


def test_restart_on_rv32_while_the_other_instance_runs(
    pipe: Pipe, modules: dict[str, Path]
) -> None:
    pipe.upload(modules, "evp_sink")
    pipe.bind("steady", "evp_sink")
    pipe.bind("flaky", "evp_sink", PipeLimits(max_restarts=2))
    pipe.subscribe_route("steady", "in", "t")
    pipe.subscribe_route("flaky", "in", "t")
    pipe.config("flaky", "crash_at", "1")
    # limits.max_instances is 2 here: a third instance (so the 5-stage plate pipeline) is refused
    text = pipe.expect(
        MsgType.PIPE_BIND, pack_pipe_bind("third", "evp_sink", PipeLimits()), Status.NO_SPACE
    )
    assert text == "too many instances (the device holds 2)"
    pipe.start()
    for i in range(3):
        while pipe.publish("t", f"m{i}".encode())[0] is Status.BUSY:
            time.sleep(0.05)
        time.sleep(0.2)  # past the restart backoff
    assert pipe.wait_state("steady", "received", "n=3 ") == "n=3 topic=in last=m2"
    deadline = time.monotonic() + 20
    while pipe.instance("flaky").status is not PipeInstanceStatus.ERROR:  # gave up
        assert time.monotonic() < deadline, pipe.status()
        time.sleep(0.05)
    flaky = pipe.instance("flaky")
    assert (flaky.restarts, flaky.received) == (2, 0)  # no message callback returned
    assert flaky.failure_message == "message callback: trap: unreachable (gave up after 2 restarts)"
