"""Malformed models: truncations, bit flips and bad offsets end in a clean error (mostly
invalid_encoding), never a crash or an out-of-bounds read. Run in-process (release build) and
through the AddressSanitizer + UBSan build of nnb_check."""

from __future__ import annotations

import os
import random
import struct
import subprocess
from pathlib import Path

import pytest

from edge_runtime.host.backends import builtin
from edge_runtime.host.backends.base import BackendError
from tests.conftest import shared_file
from tests.nn_builtin import tflite_gen as g

CLEAN_KINDS = {"invalid_encoding", "unsupported_operation", "too_large"}


def _small_model() -> bytes:
    return g.chain_model()


def truncations(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = set(range(min(len(data), 96))) | {rng.randrange(len(data)) for _ in range(count)}
    return [data[:c] for c in sorted(cuts)]


def bit_flips(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            # mostly in the structure (the front), sometimes anywhere
            p = rng.randrange(min(len(b), 2048) if rng.random() < 0.8 else len(b))
            b[p] ^= 1 << rng.randrange(8)
        out.append(bytes(b))
    return out


def offset_smashes(data: bytes, seed: int) -> list[bytes]:
    """Every aligned 32-bit word of the first 1 KiB replaced by hostile values."""
    rng = random.Random(seed)
    out = []
    for pos in range(0, min(len(data), 1024) - 3, 4):
        for value in (
            0xFFFFFFFF,
            0x7FFFFFFF,
            0x80000000,
            len(data),
            len(data) - 2,
            rng.randrange(1 << 32),
        ):
            b = bytearray(data)
            struct.pack_into("<I", b, pos, value)
            out.append(bytes(b))
    return out


def _load_status(backend: builtin.BuiltinBackend, model: bytes) -> str:
    try:
        graph = backend.load(model)
    except BackendError as e:
        assert e.kind in CLEAN_KINDS, e
        assert str(e).strip(), "empty error message"
        return e.kind
    ctx = graph.new_context()  # a model that parses must also initialise and run
    ctx.invoke()
    return "ok"


def test_truncated_models_are_invalid(nnb_backend: builtin.BuiltinBackend) -> None:
    data = _small_model()
    kinds = [_load_status(nnb_backend, t) for t in truncations(data, 200, 1) if len(t) < len(data)]
    assert "ok" not in kinds
    assert kinds.count("invalid_encoding") == len(kinds)


def test_bit_flips_never_crash(nnb_backend: builtin.BuiltinBackend) -> None:
    data = _small_model()
    kinds = [_load_status(nnb_backend, m) for m in bit_flips(data, 400, 2)]
    assert set(kinds) <= CLEAN_KINDS | {"ok"}
    assert kinds.count("invalid_encoding") > 0


def test_bad_offsets_are_invalid_encoding(nnb_backend: builtin.BuiltinBackend) -> None:
    data = bytearray(_small_model())
    struct.pack_into("<I", data, 0, 0x7FFFFFF0)  # root table offset past the end
    with pytest.raises(BackendError) as e:
        nnb_backend.load(bytes(data))
    assert e.value.kind == "invalid_encoding"
    assert str(e.value) == "backend builtin: load: flatbuffer: table out of bounds at 2147483632"
    data = bytearray(_small_model())
    root = struct.unpack_from("<I", data, 0)[0]
    struct.pack_into("<i", data, root, -0x100000)  # vtable far beyond the end
    with pytest.raises(BackendError) as e:
        nnb_backend.load(bytes(data))
    assert e.value.kind == "invalid_encoding"
    assert "vtable out of bounds" in str(e.value)
    kinds = [_load_status(nnb_backend, m) for m in offset_smashes(_small_model(), 3)]
    assert set(kinds) <= CLEAN_KINDS | {"ok"}


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"\x00" * 8, b"\x08\x00\x00\x00TFL3"])
def test_tiny_buffers(nnb_backend: builtin.BuiltinBackend, data: bytes) -> None:
    with pytest.raises(BackendError) as e:
        nnb_backend.load(data)
    assert e.value.kind == "invalid_encoding"


def _run_asan(tool: Path, files: list[Path]) -> list[str]:
    env = dict(
        os.environ,
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
    )
    lines: list[str] = []
    for i in range(0, len(files), 400):  # keep command lines short
        chunk = files[i : i + 400]
        proc = subprocess.run(
            [str(tool), "--invoke", "--max-macs", "20000000", *map(str, chunk)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "AddressSanitizer" not in proc.stderr and "runtime error" not in proc.stderr, (
            proc.stderr[-4000:]
        )
        out = proc.stdout.splitlines()
        assert len(out) == len(chunk), proc.stdout[-2000:]
        lines += out
    return lines


def test_malformed_models_under_asan(nnb_check_asan: Path, tmp_path: Path) -> None:
    data = _small_model()
    models = truncations(data, 150, 4) + bit_flips(data, 300, 5) + offset_smashes(data, 6)
    files = []
    for i, m in enumerate(models):
        f = tmp_path / f"m{i}.tflite"
        f.write_bytes(m)
        files.append(f)
    lines = _run_asan(nnb_check_asan, files)
    stages = {line.split(" ")[1] for line in lines}
    assert stages <= {"ok", "invalid_encoding", "unsupported_operation", "too_large"}, stages


@pytest.mark.parametrize("name", ["hello_world_int8", "micro_speech_quantized", "kws_ref_model"])
def test_mutated_real_models_under_asan(name: str, nnb_check_asan: Path, tmp_path: Path) -> None:
    data = shared_file(f"models/{name}.tflite").read_bytes()
    models = truncations(data, 100, 7) + bit_flips(data, 250, 8)
    files = []
    for i, m in enumerate(models):
        f = tmp_path / f"m{i}.tflite"
        f.write_bytes(m)
        files.append(f)
    _run_asan(nnb_check_asan, files)


def test_real_and_generated_models_run_clean_under_asan(
    nnb_check_asan: Path, tmp_path: Path
) -> None:
    files = []
    for name, data in g.corpus().items():
        f = tmp_path / name
        f.write_bytes(data)
        files.append(f)
    models = shared_file("models")
    files += sorted(models.glob("*.tflite"))
    lines = _run_asan(nnb_check_asan, files)
    for f, line in zip(files, lines, strict=True):
        if f.name.startswith("tanh"):
            assert line.startswith("parse unsupported_operation 0 unsupported operator TANH"), line
        else:
            assert line.startswith("done ok") and line.endswith("invoked"), (f.name, line)
