"""The C runtime with the WAMR engine as a native process: the conformance suite, and modules
the runtime has never seen (uploaded over the device protocol, sha256-verified, accounted)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from build_tools.conformance import suite
from build_tools.conformance.cases import load_cases
from build_tools.conformance.runner import Runner
from build_tools.devices.base import NotSupported
from build_tools.devices.posix import PosixDut
from build_tools.firmware import RuntimeImage
from build_tools.firmware.cmake import CMakeBuilder
from build_tools.targets import Target
from build_tools.toolchains import wabt
from edge_runtime.protocol.messages import (
    Kind,
    MsgType,
    Status,
    pack_put_begin,
    pack_put_chunk,
)
from tests.conftest import shared_file
from tests.runtime_c.conftest import require_tools
from tests.wamr_guests import check_bad_uploads_refused, check_witx_outputs, witx_wasm


def test_conformance_posix_wamr(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage
) -> None:
    result = suite.run_suite(posix_wamr_target, options={"binary": posix_wamr_runtime.binary})
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert result.count("skipped") == 0
    assert result.count("passed") > 0


def test_unseen_module_is_uploaded_and_runs(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage, tmp_path: Path
) -> None:
    """A guest compiled outside the project (hand-written WAT) runs without rebuilding."""
    wasm = witx_wasm(tmp_path)
    with PosixDut(posix_wamr_target, {"binary": posix_wamr_runtime.binary}) as dut:
        info = dut.info()
        assert info.engine == "wamr" and info.can_load_code
        assert info.builtin_modules == ()  # the firmware holds no module: all are uploaded
        heap_before = dut.client.stats().heap_in_use
        iid = dut.instantiate("witx_infer", wasm)
        check_witx_outputs(dut, iid)
        listed = {i.sha256: i.name for i in dut.client.list() if i.kind is Kind.MODULE}
        assert listed == {hashlib.sha256(wasm).hexdigest(): "witx_infer"}
        # the loaded module and the instance are accounted in the runtime's heap
        assert dut.client.stats().heap_in_use > heap_before
        dut.drop(iid)


def test_model_option_is_uploaded(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage, tmp_path: Path
) -> None:
    """--model NAME=PATH: the model is uploaded and load_by_name finds it under that name."""
    model = shared_file("models/hello_world_int8.tflite")
    wasm = witx_wasm(tmp_path, "uploaded_model_1")
    options = {"binary": posix_wamr_runtime.binary, "models": [("uploaded_model_1", model)]}
    with PosixDut(posix_wamr_target, options) as dut:
        assert "uploaded_model_1" in dut.info().models
        check_witx_outputs(dut, dut.instantiate("witx_uploaded", wasm))


def test_bad_uploads_refused_and_device_keeps_serving(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage
) -> None:
    hello = suite.target_guests(posix_wamr_target)["hello"]
    with PosixDut(posix_wamr_target, {"binary": posix_wamr_runtime.binary}) as dut:
        check_bad_uploads_refused(dut.client)
        iid = dut.instantiate("hello", hello)
        assert dut.call(iid, "add", [2, 3]).value == 5


def test_unused_modules_make_room(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage, tmp_path: Path
) -> None:
    """More modules than the engine's table holds: the least recently used unused one is
    unloaded; instantiating it again uploads it again."""
    variants = []
    for i in range(10):
        wat = tmp_path / f"m{i}.wat"
        wat.write_text(f'(module (func (export "id") (result i32) i32.const {i}))')
        wasm = tmp_path / f"m{i}.wasm"
        wabt.wat2wasm(wat, wasm)
        variants.append(wasm.read_bytes())
    with PosixDut(posix_wamr_target, {"binary": posix_wamr_runtime.binary}) as dut:
        for i, wasm in enumerate(variants):
            iid = dut.instantiate(f"m{i}", wasm)
            assert dut.call(iid, "id", []).value == i
            dut.drop(iid)
        held = {i.name for i in dut.client.list() if i.kind is Kind.MODULE}
        assert "m0" not in held and "m9" in held and len(held) < len(variants)
        iid = dut.instantiate("m0", variants[0])
        assert dut.call(iid, "id", []).value == 0


def test_wasm2c_says_it_cannot_load_modules(
    posix_target: Target, posix_runtime: RuntimeImage, tmp_path: Path
) -> None:
    wasm = witx_wasm(tmp_path)
    with (
        PosixDut(posix_target, {"binary": posix_runtime.binary}) as dut,
        pytest.raises(NotSupported, match="not built into this wasm2c runtime"),
    ):
        dut.instantiate("witx_infer", wasm)


def test_conformance_posix_wamr_sanitized(posix_wamr_target: Target) -> None:
    """ASan + UBSan over the engine, WAMR and the core: no error, no leak at exit."""
    require_tools()
    rt = CMakeBuilder().build(posix_wamr_target, sanitize=True)
    dut = PosixDut(posix_wamr_target, {"binary": rt.binary})
    with dut:
        result = Runner(dut, suite.target_guests(posix_wamr_target)).run(load_cases())
        stderr = dut.stderr_text()
    failed = [f"{c.id}: {c.detail}" for c in result.cases if c.status == "failed"]
    assert not failed, "\n".join(failed)
    assert dut.exit_code == 0, stderr[-3000:]
    assert "runtime error" not in stderr and "AddressSanitizer" not in stderr


def _persist_lines(dut: PosixDut, expect: int = 0) -> list[str]:
    """The device's persist log lines. Its stderr is drained by a reader thread, so a line the
    device wrote before answering may reach us a little after the answer: wait (up to 10 s) until
    at least `expect` lines arrived."""
    deadline = time.monotonic() + 10.0
    while True:
        lines = [ln for ln in dut.stderr_text().splitlines() if ln.startswith("rt: persist: ")]
        if len(lines) >= expect or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def test_persistence_hook_once_per_committed_upload(
    posix_wamr_target: Target, posix_wamr_runtime: RuntimeImage, tmp_path: Path
) -> None:
    """rt_os_persist_upload (on posix it notes each call in the debug log) runs once for every
    committed upload, module or model, and never for a refused, aborted or already held one."""
    hello = suite.target_guests(posix_wamr_target)["hello"]
    model = shared_file("models/hello_world_int8.tflite").read_bytes()
    with PosixDut(posix_wamr_target, {"binary": posix_wamr_runtime.binary}) as dut:
        client = dut.client
        client.hello()
        assert _persist_lines(dut) == []
        check_bad_uploads_refused(client)  # not wasm; bytes not matching the announced sha256
        status, _ = client.request(
            MsgType.PUT_BEGIN,
            pack_put_begin(Kind.MODULE, "aborted", len(hello), hashlib.sha256(hello).digest()),
        )
        assert status is Status.OK
        status, _ = client.request(MsgType.PUT_CHUNK, pack_put_chunk(0, hello[:100]))
        assert status is Status.OK
        status, _ = client.request(MsgType.PUT_END, b"")  # cut short: refused
        assert status is not Status.OK
        status, _ = client.request(  # a new upload aborts an unfinished one
            MsgType.PUT_BEGIN,
            pack_put_begin(Kind.MODULE, "aborted", len(hello), hashlib.sha256(hello).digest()),
        )
        assert status is Status.OK
        status, _ = client.request(MsgType.PUT_CHUNK, pack_put_chunk(0, hello[:100]))
        assert status is Status.OK
        client.stats()  # a round trip: every log line of the requests above is written
        assert _persist_lines(dut) == []
        assert client.put(Kind.MODULE, "hello", hello)
        assert client.put(Kind.MODEL, "uploaded_model_1", model)
        assert not client.put(Kind.MODULE, "hello", hello)  # PRESENT: nothing committed
        client.stats()
        sha = {n: hashlib.sha256(b).hexdigest()[:16] for n, b in (("h", hello), ("m", model))}
        assert _persist_lines(dut, expect=2) == [
            f"rt: persist: module hello {sha['h']} {len(hello)} bytes",
            f"rt: persist: model uploaded_model_1 {sha['m']} {len(model)} bytes",
        ]
        iid = dut.instantiate("hello", hello)  # the committed module is the one that runs
        assert dut.call(iid, "add", [2, 3]).value == 5
