"""A guest hand-written in WAT to the witx ABI (not the project's header) runs inference unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from build_tools.devices.host import HostDut
from build_tools.paths import repo_root
from build_tools.targets import load_target
from build_tools.toolchains import wabt
from tests.conftest import shared_file


def test_witx_guest_runs_inference(tmp_path: Path) -> None:
    model = shared_file("models/hello_world_int8.tflite")
    wasm = tmp_path / "witx_infer.wasm"
    wabt.wat2wasm(repo_root() / "guests" / "wat" / "witx_infer.wat", wasm)
    with HostDut(
        load_target("host"), {"models": [("hello_world_int8", model)], "backend": "litert"}
    ) as dut:
        iid = dut.instantiate("witx_infer", wasm.read_bytes())
        got = [dut.call(iid, "run", [x]).value for x in (-128, 0, 100)]
    # Independent expectation: the model's own float function at the dequantized input, i.e.
    # sin(x) (hello_world regresses a sine), read back through the output quantization.
    in_scale, in_zp, out_scale, out_zp = 0.024480115622282028, -128, 0.008290956728160381, 5
    for q, y in zip((-128, 0, 100), got, strict=True):
        assert y is not None and y > -1000, y
        x = (q - in_zp) * in_scale
        assert abs((y - out_zp) * out_scale - np.sin(x)) < 0.15, (q, y)
