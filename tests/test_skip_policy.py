"""The CI skip policy itself: a skip not on the allow-list fails the run when CI is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.skips import allowed, allowlist, parse_allowlist

REPO = Path(__file__).resolve().parents[1]


def test_allowlist_entries_have_reasons() -> None:
    entries = allowlist()
    assert entries and all(len(e.reason) > 40 for e in entries)
    assert allowed("engine.mem_fill_heap", "does not fit: needs 576 KiB, budget 128 KiB")
    assert not allowed("engine.mem_fill_heap", "does not fit: needs 576 KiB, budget 256 KiB")
    assert not allowed("tests/x.py::test_y", "cmake not installed")


def test_entry_without_reason_is_refused() -> None:
    with pytest.raises(ValueError, match=r"skip\[0\] needs exactly a pattern and a non-empty"):
        parse_allowlist('[[skip]]\npattern = "x"\nreason = " "\n')


def _pytest(tmp_path: Path, ci: str, name: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_a.py").write_text(
        "import pytest\n\ndef test_skips():\n    pytest.skip('some tool is missing')\n"
    )
    (tmp_path / "test_b.py").write_text(  # a skip at collection
        "import pytest\n\npytest.importorskip('no_such_module_here')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "--rootdir", str(REPO),
         "-o", "addopts=", str(tmp_path / name)],
        cwd=REPO, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def test_unlisted_skip_fails_in_ci(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "1", "test_a.py")
    assert proc.returncode == 1, proc.stdout
    assert "skipped in CI and not in skip_allowlist.toml: some tool is missing" in proc.stdout
    proc = _pytest(tmp_path, "1", "test_b.py")
    assert proc.returncode == 2, proc.stdout  # an error at collection
    assert "skipped in CI and not in skip_allowlist.toml: could not import" in proc.stdout


def test_unlisted_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    for name in ("test_a.py", "test_b.py"):
        proc = _pytest(tmp_path, "", name)
        assert proc.returncode in (0, 5), proc.stdout  # 5: nothing left to run
        assert "1 skipped" in proc.stdout
