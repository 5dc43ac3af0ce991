"""Fixtures: the C test device (plain and ASan+UBSan builds) driven over real pipes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_runtime.protocol import DeviceClient, ProcessStream
from tests.protocol.builds import MissingTool, build_variant

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture(scope="session", params=["plain", "asan"])
def testdev_binary(request: pytest.FixtureRequest) -> Path:
    return built(request.param)


def built(variant: str) -> Path:
    """The binary of a build variant, or a skip naming the missing tool."""
    try:
        return build_variant(variant)
    except MissingTool as e:
        pytest.skip(str(e))


class RunningDevice:
    """A running proto_testdev: its stream, a client, and a check for clean exit."""

    def __init__(self, binary: Path, log_path: Path, storage: int = 65536) -> None:
        self.stream = ProcessStream([str(binary), "--storage", str(storage)], stderr_log=log_path)
        self.client = DeviceClient(self.stream, "testdev", timeout=5.0)
        self.log_path = log_path

    def close_and_check(self) -> None:
        self.stream.close()
        text = self.stream.stderr_text()
        code = self.stream.poll()
        assert code == 0, f"test device exited with {code}; see {self.log_path}"
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report in {self.log_path}:\n{text[-3000:]}"


@pytest.fixture
def testdev(testdev_binary: Path, tmp_path: Path) -> Iterator[RunningDevice]:
    dev = RunningDevice(testdev_binary, tmp_path / "testdev.stderr.log")
    try:
        yield dev
    finally:
        dev.close_and_check()
