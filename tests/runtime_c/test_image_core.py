"""rt_image.c on its own (runtime_c/core/test/image_check.c, built with ASan + UBSan): the C
core's pixels equal the independent reference (build_tools/conformance/image_ref.py) on random
op chains the conformance cases do not reach, through both ways in (rt_image_put_frame, the
native frame path of camera drivers, and rt_image_create from linear memory), with every view's
parent dropped early and the accounted heap back to zero at the end."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from build_tools import runtime_c
from build_tools.conformance import image_ref
from build_tools.render import render_to
from build_tools.targets import load_target

from .conftest import require_tools

RT = runtime_c.runtime_dir()


@pytest.fixture(scope="module")
def image_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools()
    out = tmp_path_factory.mktemp("image") / "image_check"
    render_to("rt_config.h.j2", load_target("posix"), out.parent / "rt_config.h")
    includes = [out.parent, RT / "include", RT / "core", RT / "engines", RT / "nn"]
    subprocess.run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            *(f"-I{d}" for d in includes),
            "-o",
            str(out),
            str(RT / "core" / "test" / "image_check.c"),
            str(RT / "core" / "rt_image.c"),
            str(RT / "core" / "rt_mem.c"),
        ],
        check=True,
    )
    return out


def _chains() -> list[tuple[str, int, int, list[list[object]]]]:
    rng = np.random.default_rng(11)
    chains = []
    for _ in range(40):
        fmt = str(rng.choice(["gray8", "rgb888", "yuv422"]))
        w, h = 2 * int(rng.integers(1, 30)), int(rng.integers(1, 50))
        ops: list[list[object]] = []
        if fmt == "yuv422":  # even x and width, then out of yuv422 (resize/rotate need it)
            x = 2 * int(rng.integers(0, w // 2))
            ops.append(["crop", x, 0, 2 * int(rng.integers(1, (w - x) // 2 + 1)), h])
            ops.append(["convert", str(rng.choice(["gray8", "rgb888"]))])
        else:
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
            ops.append(
                ["crop", x, y, int(rng.integers(1, w - x + 1)), int(rng.integers(1, h - y + 1))]
            )
        ops.append(["rotate", int(rng.integers(0, 4))])
        mode = str(rng.choice(["nearest", "bilinear"]))
        ops.append(["resize", 2 * int(rng.integers(1, 40)), int(rng.integers(1, 70)), mode])
        ops.append(["convert", str(rng.choice(["gray8", "rgb888", "yuv422"]))])
        chains.append((fmt, w, h, ops))
    return chains


def _argv(fmt: str, w: int, h: int, ops: list[list[object]]) -> list[str]:
    args = [str(image_ref.FORMATS[fmt]), str(w), str(h)]
    for name, *rest in ops:
        args.append(str(name))
        for a in rest:
            if name == "resize" and a in ("nearest", "bilinear"):
                args.append("0" if a == "nearest" else "1")
            elif name == "convert":
                args.append(str(image_ref.FORMATS[str(a)]))
            else:
                args.append(str(a))
    return args


@pytest.mark.parametrize(("fmt", "w", "h", "ops"), _chains(), ids=lambda v: str(v))
def test_c_core_pixels_equal_the_reference(
    image_check: Path, fmt: str, w: int, h: int, ops: list[list[object]]
) -> None:
    code = image_ref.FORMATS[fmt]
    ref = image_ref.RefImage(w, h, code, image_ref.random_pixels(w, h, code, w * 1000 + h))
    proc = subprocess.run(
        [str(image_check), *_argv(fmt, w, h, ops)], input=ref.data, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    want = image_ref.apply(ref, ops)
    info = np.frombuffer(proc.stdout[:16], "<u4").tolist()
    assert info == [want.width, want.height, want.format, len(want.data)]
    assert proc.stdout[16:] == want.data


def test_an_error_code_ends_the_driver(image_check: Path) -> None:
    """The driver itself can fail: an out-of-range crop is invalid_argument (exit 10 + 1)."""
    proc = subprocess.run(
        [str(image_check), "0", "4", "4", "crop", "3", "0", "2", "2"],
        input=bytes(16),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 11 and b"crop: error 1" in proc.stderr
