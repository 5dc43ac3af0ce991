"""The licence-plate demo: the synthetic set, the OCR model against the tflite-micro oracle, the
EVP pipeline's plate accuracy on a held-out set, and the same strings from the one-call guest on
the host and the C runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from build_tools.devices.base import open_device
from build_tools.errors import BuildToolsError
from build_tools.guests import build_evp_modules, build_guests
from build_tools.plates import reader, synth
from build_tools.targets import Target, load_target, with_runtime
from edge_runtime.deployment import parse_deployment

HELDOUT = 60  # plates in the CI accuracy test (deterministic: synth.HELDOUT_SEED)
ACCURACY_MIN = 0.95
BUILTIN_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE"}
BUILTIN_OPS |= {"FULLY_CONNECTED", "SOFTMAX", "ADD", "QUANTIZE", "DEQUANTIZE", "LOGISTIC"}


@pytest.fixture(scope="module")
def heldout() -> list[synth.Plate]:
    return synth.plate_set(HELDOUT)


@pytest.fixture(scope="module")
def host_pipeline(heldout: list[synth.Plate]) -> reader.Readout:
    modules = build_evp_modules(load_target("host"))
    return reader.run_pipeline(heldout, modules)


@pytest.fixture(scope="module")
def tflm() -> object:
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def _guest(target: Target, name: str) -> bytes:
    built = build_guests(target)
    return next((built.directory / g.path).read_bytes() for g in built.guests if g.name == name)


def test_heldout_set_is_deterministic_and_well_formed() -> None:
    a, b = synth.plate_set(4), synth.plate_set(4)
    assert [p.pgm for p in a] == [p.pgm for p in b]
    assert synth.plate_set(4, seed=1)[0].pgm != a[0].pgm
    for p in a:
        assert len(p.text) == len(synth.FORMAT)
        for kind, ch in zip(synth.FORMAT, p.text, strict=True):
            assert ch in (synth.LETTERS if kind == "L" else synth.ALPHABET[:10])
        header = f"P5\n{synth.FRAME_W} {synth.FRAME_H}\n255\n".encode()
        assert p.pgm.startswith(header)
        assert len(p.pgm) == len(header) + synth.FRAME_W * synth.FRAME_H


def _operators(model: bytes) -> set[str]:
    from tests.nn_builtin.tflite_gen import schema

    s = schema()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    m = s.Model.GetRootAs(model, 0)
    return {
        names[max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())]
        for i in range(m.OperatorCodesLength())
    }


def test_ocr_model_fits_the_mcu_and_the_builtin_backend(tflm: object) -> None:
    data = reader.model_path().read_bytes()
    assert len(data) < 100 * 1024
    assert _operators(data) <= BUILTIN_OPS
    oracle = tflm.Interpreter.from_bytes(data)  # type: ignore[attr-defined]
    inp, out = oracle.get_input_details(0), oracle.get_output_details(0)
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"]) == [1, 16, 16, 1]
    assert list(out["shape"]) == [1, len(synth.ALPHABET)]


@pytest.mark.parametrize("backend", ["builtin", "tflm"])
def test_ocr_scores_equal_the_oracle(
    backend: str, heldout: list[synth.Plate], tflm: object
) -> None:
    """The plates guest's wasi-nn scores for every character of 5 plates, bit for bit those of
    the tflite-micro interpreter on the same characters."""
    target = with_runtime(load_target("host"), None, backend)
    oracle = tflm.Interpreter.from_bytes(reader.model_path().read_bytes())  # type: ignore[attr-defined]
    with open_device(target) as dut:
        dut.put_model(reader.MODEL_NAME, reader.model_path().read_bytes())
        iid = dut.instantiate("plates", _guest(target, "plates"))
        buf = dut.call(iid, "alloc", [len(heldout[0].pgm)]).value
        assert buf
        chars_ptr = dut.call(iid, "chars_ptr", []).value or 0
        scores_ptr = dut.call(iid, "scores_ptr", []).value or 0
        for p in heldout[:5]:
            dut.write_memory(iid, buf, p.pgm)
            n = dut.call(iid, "plate_chars", [buf, len(p.pgm)]).value
            assert n == len(p.text)
            chars = np.frombuffer(dut.read_memory(iid, chars_ptr, n * 256), np.int8)
            assert dut.call(iid, "read_plate", [buf, len(p.pgm)]).value == n
            scores = np.frombuffer(dut.read_memory(iid, scores_ptr, n * 33), np.int8)
            for k in range(n):
                oracle.set_input(chars[k * 256 : (k + 1) * 256].reshape(1, 16, 16, 1), 0)
                oracle.invoke()
                expected = oracle.get_output(0).reshape(-1)
                np.testing.assert_array_equal(scores[k * 33 : (k + 1) * 33], expected)
        dut.drop(iid)


def test_pipeline_reads_the_heldout_plates(
    host_pipeline: reader.Readout, heldout: list[synth.Plate]
) -> None:
    assert host_pipeline.errors == []
    accuracy = host_pipeline.accuracy(heldout)
    wrong = [(p.text, t) for p, t in zip(heldout, host_pipeline.texts, strict=True) if p.text != t]
    assert accuracy >= ACCURACY_MIN, f"plate accuracy {accuracy:.1%}; wrong: {wrong}"
    # every stage measured itself on every frame that had a plate
    assert all(all(us > 0 for us in row[:4]) for row in host_pipeline.stage_us if row[0])


def test_pipeline_manifest_is_a_valid_evp_deployment() -> None:
    modules = build_evp_modules(load_target("host"))
    d = parse_deployment(json.dumps(reader.manifest(modules, "LLDDLLL")), "plates manifest")
    assert sorted(d.instances) == sorted(name for name, *_ in reader.CHAIN)
    with pytest.raises(BuildToolsError, match="EVP modules not built: plate_ocr"):
        reader.manifest({k: v for k, v in modules.items() if k != "plate_ocr"})


def test_frame_without_plate_gives_an_empty_string() -> None:
    modules = build_evp_modules(load_target("host"))
    blank = synth.Plate("", synth.pgm(np.full((synth.FRAME_H, synth.FRAME_W), 90, np.uint8)))
    junk = synth.Plate("", b"not a frame")
    r = reader.run_pipeline([blank, junk, synth.plate(synth.HELDOUT_SEED, 0)], modules)
    assert r.errors == []
    assert r.texts == ["", "", synth.plate(synth.HELDOUT_SEED, 0).text]


@pytest.mark.parametrize(
    ("target_name", "frames"),
    [("host", False), ("posix", True), ("posix", False), ("qemu-rv32", True)],
    ids=["host", "posix-frames", "posix-mem-write", "qemu-rv32-frames"],
)
def test_plates_guest_reads_the_same_strings(
    target_name: str, frames: bool, host_pipeline: reader.Readout, heldout: list[synth.Plate]
) -> None:
    """The one-call guest (same stages, builtin backend on the C runtime) on each runtime gives
    the EVP pipeline's strings, with the frame written into guest memory (read_plate) or handed
    over as an image handle (FRAMES, read_plate_image)."""
    target = load_target(target_name)
    count = HELDOUT if target.connection.transport != "qemu" else 20
    with open_device(target) as dut:
        assert dut.takes_frames or not frames  # the C runtimes take frames
        r = reader.run_reactor(dut, _guest(target, "plates"), heldout[:count], frames=frames)
    assert r.errors == []
    assert r.texts == host_pipeline.texts[:count]


def test_pipeline_on_the_c_runtime_reads_the_same_strings(
    host_pipeline: reader.Readout, heldout: list[synth.Plate]
) -> None:
    """The five-module deployment run by the C runtime itself (posix, WAMR: it loads the
    modules; docs/pipeline.md section 10) reads the host pipeline's strings."""
    target = with_runtime(load_target("posix"), engine="wamr")
    count = 20
    r = reader.run_pipeline(heldout[:count], build_evp_modules(load_target("host")), None, target)
    assert r.errors == []
    assert r.texts == host_pipeline.texts[:count]
    # every stage measured itself inside the device's instances
    assert all(all(us > 0 for us in row[:4]) for row in r.stage_us if row[0])
