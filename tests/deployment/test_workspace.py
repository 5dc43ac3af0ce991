"""EVP_getWorkspaceDirectory on the Pi host: each deployment instance gets a real directory
there, pre-opened for WASI, where the module writes and reads files; paths leaving it are
refused; the directory goes when the deployment stops (docs/abi.md sections 4 and 6)."""

from __future__ import annotations

from pathlib import Path

from tests.deployment.conftest import RunPipeline, manifest

FILE_TEXT = "written by evp_workspace\nappended\n"


def test_module_writes_and_reads_back_a_file_in_its_workspace(
    evp_modules: dict[str, Path], run_pipeline: RunPipeline
) -> None:
    m = manifest(
        evp_modules,
        {"ws1": ("evp_workspace", {}, {}), "ws2": ("evp_workspace", {}, {})},
    )
    p = run_pipeline(m)
    keys = [("ws1", "workspace"), ("ws2", "workspace")]
    assert p.wait_until(lambda: all(k in p.states for k in keys), 20), p.status()
    for name in ("ws1", "ws2"):
        state = p.states[(name, "workspace")].decode()
        assert state == f"path=/workspace/{name}/note.txt read={FILE_TEXT} escape=1"
    host1, host2 = p.workspace("ws1"), p.workspace("ws2")
    assert host1 is not None and host2 is not None and host1 != host2  # one per instance
    assert (host1 / "note.txt").read_text() == FILE_TEXT  # a real file on the host
    assert not (host1.parent / "outside.txt").exists()  # ../ was refused
    p.stop()
    assert not host1.exists() and not host2.exists()
    assert p.workspace("ws1") is None
