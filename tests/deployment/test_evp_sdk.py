"""The EVP module SDK's edge cases, as a module sees them (expected values: docs/abi.md sec. 6)."""

from __future__ import annotations

from pathlib import Path

from tests.deployment.conftest import RunPipeline, manifest

EXPECTED = {
    "handle": 0x1234,
    "config_first": 0,  # EVP_OK
    "config_again": 3,  # EVP_ERROR
    "message_bad_handle": 4,  # EVP_INVAL
    "message_first": 0,
    "rpc_null": 4,  # EVP_INVAL
    "workspace_len": len("/workspace/probe"),
    "workspace_same": 1,  # allocated once
    "workspace_bad_type": 4,  # EVP_INVAL in place of the pointer
    "process_nothing": 0,  # the configuration topic is an event
    "configs": 1,
    "process_idle": 2,  # EVP_TIMEDOUT
    "send_fault": 10,  # EVP_FAULT
    "send_empty": 0,
    "process_message": 0,
    "empty_len": 0,
    "empty_ptr_ok": 1,  # a zero-length payload still comes with a valid pointer
    "telemetry_good": 0,
    "telemetry_bad": 0,  # accepted; the callback says ERROR
    "telemetry_too_many": 6,  # EVP_TOOBIG
    "rpc_response_null": 4,
    "rpc_response": 0,
    "blob": 12,  # EVP_NOTSUP
    "telemetry_good_reason": 0,  # SENT
    "telemetry_bad_reason": 1,  # ERROR
    "rpc_reason": 1,  # ERROR: no request is pending
}


def test_sdk_edge_cases(evp_modules: dict[str, Path], run_pipeline: RunPipeline) -> None:
    m = manifest(
        evp_modules,
        {"probe": ("evp_probe", {"loop": "self"}, {"loop": "self"})},
        {"probe": {"config": {"some-topic": "value"}}},
    )
    p = run_pipeline(m)
    assert p.wait_until(lambda: ("probe", "results") in p.states, 20), p.status()
    text = p.states[("probe", "results")].decode()
    got = dict(item.split("=") for item in text.rstrip(";").split(";"))
    assert {k: int(v) for k, v in got.items()} == EXPECTED
    assert ("probe", "ok", {"a": [1, 2]}) in p.telemetry
    assert not [t for t in p.telemetry if t[1] == "bad"]
