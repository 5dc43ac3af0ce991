"""edge_image.to_tensor writes exactly the tensor docs/abi.md section 7 defines, in both
layouts, on the Pi host and the C runtime: a RESHAPE-only model (written here, no TensorFlow)
returns its input unchanged, so get_output reads back what to_tensor wrote, which is compared
with the independent reference (build_tools/conformance/image_ref.py). The conformance cases
cover NHWC through real models; no shared model takes NCHW."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from build_tools.conformance import image_ref
from build_tools.conformance.suite import target_guests
from build_tools.devices.base import Dut, open_device
from build_tools.firmware import RuntimeImage
from build_tools.targets import load_target
from tests.nn_builtin.tflite_gen import INT8, INT32, RESHAPE, ModelBuilder

W, H = 8, 6


def echo_model(shape: list[int]) -> bytes:
    """int8 input of `shape` -> RESHAPE to [1, n] -> output: the input's bytes."""
    n = int(np.prod(shape))
    mb = ModelBuilder()
    x = mb.tensor(shape, INT8, 1.0 / 255.0, -128)
    dims = mb.tensor([2], INT32, data=np.array([1, n]))
    y = mb.tensor([1, n], INT8, 1.0 / 255.0, -128)
    mb.op(RESHAPE, [x, dims], [y])
    return mb.build([x], [y])


MODELS = {
    "echo_gray_nhwc": ([1, H, W, 1], "gray8", "nhwc"),
    "echo_rgb_nhwc": ([1, H, W, 3], "rgb888", "nhwc"),
    "echo_rgb_nchw": ([1, 3, H, W], "rgb888", "nchw"),
}


@pytest.fixture(scope="module", params=["host", "posix"])
def device(request: Any, posix_runtime: RuntimeImage) -> Iterator[tuple[Dut, int]]:
    target = load_target(request.param)
    options = {"binary": posix_runtime.binary} if request.param == "posix" else {}
    with open_device(target, options) as dut:
        for name, (shape, _, _) in MODELS.items():
            dut.put_model(name, echo_model(shape))
        yield dut, dut.instantiate("image_probe", target_guests(target)["image_probe"])


def _alloc(dut: Dut, iid: int, data: bytes) -> int:
    addr = dut.call(iid, "alloc", [len(data)]).value
    assert addr
    dut.write_memory(iid, addr, data)
    return int(addr)


def _ok(dut: Dut, iid: int, export: str, *args: int) -> None:
    out = dut.call(iid, export, list(args))
    assert (out.status, out.value) == ("ok", 0), f"{export}{args}: {out}"


@pytest.mark.parametrize("model", list(MODELS))
def test_to_tensor_writes_the_reference_tensor(device: tuple[Dut, int], model: str) -> None:
    dut, iid = device
    _, fmt, layout = MODELS[model]
    code = image_ref.FORMATS[fmt]
    ref = image_ref.RefImage(W, H, code, image_ref.random_pixels(W, H, code, 5))
    name = _alloc(dut, iid, model.encode())
    frame = _alloc(dut, iid, ref.data)
    cells = _alloc(dut, iid, bytes(16))  # graph, ctx, image, written
    out = _alloc(dut, iid, bytes(len(ref.data)))
    _ok(dut, iid, "nn_load_by_name", name, len(model), cells)
    graph = struct.unpack("<I", dut.read_memory(iid, cells, 4))[0]
    _ok(dut, iid, "nn_init_execution_context", graph, cells + 4)
    ctx = struct.unpack("<I", dut.read_memory(iid, cells + 4, 4))[0]
    _ok(dut, iid, "img_create", W, H, code, frame, len(ref.data), cells + 8)
    image = struct.unpack("<I", dut.read_memory(iid, cells + 8, 4))[0]
    other = 1 - ["nhwc", "nchw"].index(layout)
    if fmt == "rgb888":  # the other layout does not match the model's shape
        wrong = dut.call(iid, "img_to_tensor", [image, ctx, 0, other])
        assert wrong.value == 1  # invalid_argument
    _ok(dut, iid, "img_to_tensor", image, ctx, 0, ["nhwc", "nchw"].index(layout))
    _ok(dut, iid, "nn_compute", ctx)
    _ok(dut, iid, "nn_get_output", ctx, 0, out, len(ref.data), cells + 12)
    got = np.frombuffer(dut.read_memory(iid, out, len(ref.data)), np.int8)
    np.testing.assert_array_equal(got, image_ref.tensor_int8(ref, layout))
    _ok(dut, iid, "img_drop", image)
