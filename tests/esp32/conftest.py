"""ESP32 tests: generated PlatformIO projects (cached per target) and the pinned upstream
sources they are checked against (third-party archives, unpacked once under build/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from build_tools import third_party as third_party_resolver
from build_tools.firmware import esp_idf as firmware_esp
from build_tools.paths import repo_root
from build_tools.targets import Target, load_target

ESP_TARGETS = ("esp32", "esp32s3", "esp32c3")
# The extra venv ci/setup.sh makes with the 2.x validators PlatformIO's platform pins.
IDF2_PYTHON = repo_root() / ".venv-idf2" / "bin" / "python"


def third_party(name: str) -> Path:
    """A pinned upstream tree (the lock file's name), verified and unpacked under build/."""
    return third_party_resolver.resolve(name, allow_download=False)


@pytest.fixture(scope="session", params=ESP_TARGETS)
def esp_project(request: pytest.FixtureRequest) -> tuple[Target, firmware_esp.Project]:
    target = load_target(request.param)
    return target, firmware_esp.generate(target)
