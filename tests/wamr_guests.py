"""Guests compiled outside the project, for the engines that load modules at run time (WAMR):
the hand-written WAT guest and small variants of it, and the checks shared by the posix and
qemu-rv32 tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from build_tools.devices.base import Dut
from build_tools.paths import repo_root
from build_tools.toolchains import wabt
from edge_runtime.protocol.client import DeviceClient, DeviceRequestError
from edge_runtime.protocol.messages import Kind, MsgType, Status, pack_put_begin, pack_put_chunk

WITX_WAT = repo_root() / "guests" / "wat" / "witx_infer.wat"
MODEL = "hello_world_int8"


def witx_wasm(tmp: Path, model_name: str = MODEL) -> bytes:
    """witx_infer.wat assembled by wabt; model_name (same length) replaces the model it loads."""
    if len(model_name) != len(MODEL):
        raise ValueError(f"model name must be {len(MODEL)} bytes (the data segment's length)")
    wat = tmp / f"witx_{model_name}.wat"
    wat.write_text(WITX_WAT.read_text().replace(f'"{MODEL}"', f'"{model_name}"'))
    wasm = tmp / f"witx_{model_name}.wasm"
    wabt.wat2wasm(wat, wasm)
    return wasm.read_bytes()


def check_witx_outputs(dut: Dut, iid: int) -> None:
    """The guest's `run` against the model's own function: hello_world regresses sin(x), read
    back through the int8 quantization (the same independent expectation as on the host)."""
    in_scale, in_zp, out_scale, out_zp = 0.024480115622282028, -128, 0.008290956728160381, 5
    for q in (-128, 0, 100):
        out = dut.call(iid, "run", [q])
        assert out.status == "ok" and out.value is not None and out.value > -1000, out
        x = (q - in_zp) * in_scale
        assert abs((out.value - out_zp) * out_scale - np.sin(x)) < 0.15, (q, out.value)


def check_bad_uploads_refused(client: DeviceClient) -> None:
    """A module whose bytes are not wasm is refused at PUT_END (not loadable); bytes that do not
    hash to the announced sha256 are refused (HASH_MISMATCH). Nothing is stored either way."""
    before = {i.sha256 for i in client.list()}
    junk = b"\0asm\x01\0\0\0" + bytes([0x01, 0x7F]) + b"not a section"
    try:
        client.put(Kind.MODULE, "junk", junk)
    except DeviceRequestError as e:
        assert e.status is Status.BAD_REQUEST, e
        assert "does not load" in e.device_message, e.device_message
    else:
        raise AssertionError("a module that is not valid wasm was accepted")
    announced = hashlib.sha256(b"other bytes").digest()
    status, _ = client.request(
        MsgType.PUT_BEGIN, pack_put_begin(Kind.MODULE, "forged", len(junk), announced)
    )
    assert status is Status.OK
    status, _ = client.request(MsgType.PUT_CHUNK, pack_put_chunk(0, junk))
    assert status is Status.OK
    status, body = client.request(MsgType.PUT_END, b"")
    assert status is Status.HASH_MISMATCH, (status, body)
    assert {i.sha256 for i in client.list()} == before
