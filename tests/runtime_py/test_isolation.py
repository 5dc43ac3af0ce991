"""The runtime package stands alone: every module of edge_runtime imports with build_tools
unavailable and no compiler on PATH, no source file of it imports build_tools, and without a
packaged libnnb the builtin backend says so in one line (no compiler fallback on a device)."""

from __future__ import annotations

import ast
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import edge_runtime

RUNTIME = Path(edge_runtime.__file__).resolve().parent

# Runs in a child: build_tools cannot be imported, PATH holds nothing (no cc, cmake, clang).
CHILD = """
import importlib, json, pkgutil, shutil, sys

class NoBuildTools:
    def find_spec(self, name, path=None, target=None):
        if name == "build_tools" or name.startswith("build_tools."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, NoBuildTools())
import edge_runtime
tools = {t: shutil.which(t) for t in ("cc", "gcc", "cmake", "clang", "clang-19")}
names = [m.name for m in pkgutil.walk_packages(edge_runtime.__path__, "edge_runtime.")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as e:
        failed[name] = repr(e)
from edge_runtime.host.backends import BackendError, get_backend
try:
    get_backend("builtin")
    builtin = "loaded"
except BackendError as e:
    builtin = str(e)
print(json.dumps({"names": names, "failed": failed, "tools": tools, "builtin": builtin,
                  "build_tools": "build_tools" in sys.modules}))
"""


def test_every_module_imports_without_build_tools_or_a_compiler(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_RUNTIME_")}
    env["PATH"] = str(empty)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["tools"] == dict.fromkeys(("cc", "gcc", "cmake", "clang", "clang-19"))
    expected = {
        "edge_runtime." + ".".join(p.relative_to(RUNTIME).with_suffix("").parts)
        for p in RUNTIME.rglob("*.py")
        if p.name != "__init__.py"
    }
    assert expected <= set(got["names"]), expected - set(got["names"])
    assert got["failed"] == {}
    assert got["build_tools"] is False
    assert got["builtin"] == (
        "builtin backend unavailable: no prebuilt libnnb for "
        f"{platform.machine()} in this installation"
    )


def test_no_source_file_imports_build_tools() -> None:
    offenders = []
    for p in sorted(RUNTIME.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{p.relative_to(RUNTIME)}: {n}" for n in names if n.split(".")[0] == "build_tools"
            ]
    assert offenders == []
