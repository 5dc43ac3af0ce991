from __future__ import annotations

import subprocess
from pathlib import Path

import jinja2
import pytest

from build_tools.errors import BuildToolsError
from build_tools.render import render, render_to
from build_tools.targets import load_target, load_targets


def test_config_header_carries_the_target_budget() -> None:
    text = render("rt_config.h.j2", load_target("esp32c3"))
    assert '#define RT_TARGET_NAME "esp32c3"' in text
    assert "#define RT_RAM_BYTES 409600u" in text  # 400 KiB
    assert "#define RT_INSTANCE_MEMORY_BYTES 131072u" in text
    assert "#define RT_ENGINE_WAMR 1" in text
    assert "#define RT_NN_TFLM 1" in text
    assert "#define RT_PART_STORAGE_OFFSET 0x210000u" in text


@pytest.mark.parametrize("name", sorted(load_targets()))
def test_config_header_compiles_for_every_target(name: str, tmp_path: Path) -> None:
    header = tmp_path / "rt_config.h"
    header.write_text(render("rt_config.h.j2", load_target(name)))
    probe = tmp_path / "probe.c"
    probe.write_text(
        '#include "rt_config.h"\n'
        '_Static_assert(RT_RAM_BYTES > 0, "ram");\n'
        '_Static_assert(RT_MAX_GRAPHS >= 1, "graphs");\n'
        "int main(void) { return RT_MAX_CONTEXTS > 0 ? 0 : 1; }\n"
    )
    subprocess.run(
        ["cc", "-std=c99", "-Wall", "-Werror", "-fsyntax-only", f"-I{tmp_path}", str(probe)],
        check=True,
    )


def test_strict_undefined_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "bad.j2").write_text("{{ target.memory.sram_kib }}\n")
    import build_tools.render as r

    monkeypatch.setattr(r, "TEMPLATES", tmp_path)
    with pytest.raises(BuildToolsError) as e:
        render("bad.j2", load_target("host"))
    assert "sram_kib" in str(e.value) and "target host" in str(e.value)
    assert isinstance(e.value.__cause__, jinja2.UndefinedError)


def test_render_to_rewrites_only_on_change(tmp_path: Path) -> None:
    out = tmp_path / "rt_config.h"
    target = load_target("host")
    assert render_to("rt_config.h.j2", target, out) is True
    mtime = out.stat().st_mtime_ns
    assert render_to("rt_config.h.j2", target, out) is False
    assert out.stat().st_mtime_ns == mtime
