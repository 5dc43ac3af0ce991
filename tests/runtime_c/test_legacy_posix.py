"""The legacy `wasi_nn` module on the C runtime (docs/abi.md section 8) beyond the conformance
cases: a float32 model is unsupported_operation on the built-in (int8-only) backend, and the
instance keeps working."""

from __future__ import annotations

import struct

from edge_runtime.protocol.client import DeviceClient
from edge_runtime.protocol.messages import Kind
from tests.nn_builtin import tflite_gen

SUCCESS, UNSUPPORTED_OPERATION = 0, 6


def test_float_model_is_unsupported_on_the_builtin_backend(device: DeviceClient) -> None:
    assert device.hello().nn_backend == "builtin"
    device.put(Kind.MODEL, "fc_float", tflite_gen.float_fc_model())
    inst = device.instantiate("legacy_probe")
    buf = device.call(inst, "alloc", [64]).result
    assert buf
    for path, expected in (
        (b"./models/fc_float.tflite", UNSUPPORTED_OPERATION),
        (b"./models/hello_world_int8.tflite", SUCCESS),
    ):
        device.mem_write(inst, buf, path + b"\0\0\0\0")
        r = device.call(inst, "legacy_load_by_name", [buf, len(path), buf + 48])
        assert r.result == expected, path
    assert struct.unpack("<I", device.mem_read(inst, buf + 48, 4))[0] != 0
