"""ESP32 tests: generated PlatformIO projects (cached per target) and the pinned upstream
sources they are checked against (third-party archives, unpacked once under build/)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from build_tools import firmware_esp
from build_tools.paths import build_root, repo_root, shared_root
from build_tools.targets import Target, load_target

ESP_TARGETS = ("esp32", "esp32s3", "esp32c3")
# Archive name and the folder it unpacks to (SOURCES.md of the third-party cache).
ARCHIVES = {
    "boards": "platform-espressif32-boards-4ed1943",
    "wamr": "wamr-2.4.5",
    "esp-nn": "esp-nn-d45b843",
}
# The extra venv ci/setup.sh makes with the 2.x validators PlatformIO's platform pins.
IDF2_PYTHON = repo_root() / ".venv-idf2" / "bin" / "python"


def third_party(name: str) -> Path:
    """The unpacked pinned archive (TODO: the project's third-party resolver, once on main)."""
    stem = ARCHIVES[name]
    archive = shared_root() / "third_party" / f"{stem}.tar.gz"
    if not archive.is_file():
        pytest.fail(f"third-party archive {archive.name} missing from the shared directory")
    out = build_root() / "third_party" / stem
    if not out.is_dir():
        partial = out.with_name(out.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(out)
    (top,) = out.iterdir()  # one folder (not always named like the archive)
    return top


@pytest.fixture(scope="session", params=ESP_TARGETS)
def esp_project(request: pytest.FixtureRequest) -> tuple[Target, firmware_esp.Project]:
    target = load_target(request.param)
    return target, firmware_esp.generate(target)
