"""Fixtures for the C runtime tests: skip with a reason when a tool is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import Target, load_target, with_runtime
from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.streams import ProcessStream

TOOLS = ("cmake", "wasm2c", "clang-19", "cc")


def require_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"C runtime build needs {', '.join(missing)} on PATH (bash ci/setup.sh)")


@pytest.fixture(scope="session")
def posix_target() -> Target:
    return load_target("posix")


@pytest.fixture(scope="session")
def posix_runtime(posix_target: Target) -> Iterator[RuntimeImage]:
    require_tools()
    yield CMakeBuilder().build(posix_target)


@pytest.fixture(scope="session")
def posix_runtime_asan(posix_target: Target) -> Iterator[RuntimeImage]:
    require_tools()
    yield CMakeBuilder().build(posix_target, sanitize=True)


@pytest.fixture(scope="session")
def posix_wamr_target(posix_target: Target) -> Target:
    return with_runtime(posix_target, engine="wamr")


@pytest.fixture(scope="session")
def posix_wamr_runtime(posix_wamr_target: Target) -> Iterator[RuntimeImage]:
    require_tools()
    yield CMakeBuilder().build(posix_wamr_target)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def device(posix_runtime: RuntimeImage) -> Iterator[DeviceClient]:
    """A protocol client on a fresh posix runtime process; the process must end cleanly."""
    stream = ProcessStream([str(posix_runtime.binary)])
    client = DeviceClient(stream, "posix")
    try:
        client.hello()
        yield client
    finally:
        stream.close()
        assert stream.poll() == 0, stream.stderr_text()
        assert not alive(stream.pid) or stream.poll() is not None
