"""The host refuses what the MCU runtimes cannot run, and says why with the whole cause: the
feature set of docs/abi.md section 1, parse offsets, the time limit of a start function."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wasmtime

from build_tools.devices.host import HostDut
from build_tools.targets import load_target
from edge_runtime.errors import DeviceError


@pytest.fixture(scope="module")
def dut() -> Iterator[HostDut]:
    with HostDut(load_target("host"), {"timeout_ms": 300}) as d:
        yield d  # type: ignore[misc]


def _refusal(dut: HostDut, wasm: bytes, name: str = "m") -> str:
    with pytest.raises(DeviceError) as e:
        dut.instantiate(name, wasm)
    return str(e.value)


# Each module uses one feature beyond MVP + sign-ext + mutable-globals (wasmtime's defaults
# accept all of them; the MCU runtimes do not).
BEYOND_ABI = {
    "simd": (
        "(module (func (result v128) (v128.const i32x4 0 0 0 0)))",
        "failed to parse WebAssembly module: SIMD support is not enabled (at offset 0xb)",
    ),
    "bulk_memory": (
        "(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))",
        "bulk memory support is not enabled",
    ),
    "multi_value": (
        "(module (func (result i32 i32) (i32.const 1) (i32.const 2)))",
        "func type returns multiple values but the multi-value feature is not enabled",
    ),
    "reference_types": (
        "(module (table 1 funcref) (func (result funcref) (ref.null func)))",
        "reference types support is not enabled",
    ),
}


@pytest.mark.parametrize("feature", sorted(BEYOND_ABI))
def test_features_beyond_the_abi_are_refused(dut: HostDut, feature: str) -> None:
    wat, cause = BEYOND_ABI[feature]
    message = _refusal(dut, wasmtime.wat2wasm(wat), feature)
    assert message.startswith(f"module {feature}: does not compile: "), message
    assert cause in message


def test_abi_features_are_accepted(dut: HostDut) -> None:
    wat = """(module (global $g (mut i32) (i32.const 0)) (export "g" (global $g))
             (func (export "f") (result i32) (i32.extend8_s (i32.const 255))))"""
    iid = dut.instantiate("abi", wasmtime.wat2wasm(wat))
    assert dut.call(iid, "f", []).value == -1


def test_malformed_module_keeps_the_parse_offset(dut: HostDut) -> None:
    truncated = b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00"
    assert _refusal(dut, truncated) == (
        "module m: does not compile: failed to parse WebAssembly module: "
        "unexpected end-of-file (at offset 0xa)"
    )


def test_binary_input_is_never_parsed_as_text(dut: HostDut) -> None:
    noise = bytes(range(7, 71))  # no wasm magic, not text either
    assert (
        _refusal(dut, noise) == "module m: not a wasm binary (starts with 0708090a, not 0061736d)"
    )
    assert _refusal(dut, b"(module)") == (
        "module m: not a wasm binary (starts with 286d6f64, not 0061736d)"
    )


def test_endless_start_function_names_the_time_limit(dut: HostDut) -> None:
    wasm = wasmtime.wat2wasm("(module (func $s (loop (br 0))) (start $s))")
    assert _refusal(dut, wasm, "loop") == (
        "module loop: cannot instantiate: interrupt: the start function exceeded the 300 ms "
        "time limit"
    )
