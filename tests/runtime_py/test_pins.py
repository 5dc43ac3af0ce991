"""One source of truth for the device's pins: build_tools depends on edge-runtime at exactly the
runtime's version and pins none of the runtime's dependencies again."""

from __future__ import annotations

import re
import tomllib

import edge_runtime
from build_tools.paths import repo_root


def _name(req: str) -> str:
    return re.split(r"[\s=<>!~;\[]", req, maxsplit=1)[0].lower()


def test_build_tools_depends_on_this_runtime_version_and_repeats_no_pin() -> None:
    tools = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    runtime = tomllib.loads((repo_root() / "runtime_py" / "pyproject.toml").read_text())["project"]
    pins = [r for r in tools["dependencies"] if _name(r) == runtime["name"]]
    assert len(pins) == 1 and pins[0].endswith(f"=={runtime['version']}")
    assert edge_runtime.__version__ == runtime["version"]
    runtime_names = {_name(r) for r in runtime["dependencies"]}
    runtime_names |= {
        _name(r) for extra in runtime["optional-dependencies"].values() for r in extra
    }
    assert runtime_names and not runtime_names & {_name(r) for r in tools["dependencies"]}
