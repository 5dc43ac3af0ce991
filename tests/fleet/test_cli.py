"""`python -m build_tools fleet ...` end to end: CA, certificates, publish, status, logs, call."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from build_tools.cli import run as cli_run
from build_tools.fleet.pki import CertificateAuthority
from edge_runtime.fleet.mqtt import common_name

from .conftest import RunningBroker, adder_wasm, manifest_for


def fleet(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = cli_run(["fleet", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv and out.strip() else out


def test_ca_and_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = str(tmp_path / "pki")
    code, data = fleet(capsys, "ca", "init", "--pki", pki, "--host", "broker.lan", "--json")
    assert code == 0 and Path(data["ca"]).is_file() and Path(data["crl"]).is_file()
    code, data = fleet(capsys, "cert", "issue", "pi-kitchen", "--pki", pki, "--json")
    assert code == 0 and common_name(Path(data["cert"]).read_bytes()) == "pi-kitchen"
    assert oct(Path(data["key"]).stat().st_mode & 0o777) == "0o600"
    assert cli_run(["fleet", "cert", "issue", "pi-kitchen", "--pki", pki]) == 2
    assert "a certificate for pi-kitchen exists already" in capsys.readouterr().err
    code, data = fleet(capsys, "cert", "revoke", "pi-kitchen", "--pki", pki, "--json")
    assert code == 0 and data["device"] == "pi-kitchen"
    assert CertificateAuthority(Path(pki)).issued()["pi-kitchen"]["revoked"] is True


def test_ca_init_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = str(tmp_path / "pki")
    assert cli_run(["fleet", "ca", "init", "--pki", pki]) == 0
    assert cli_run(["fleet", "ca", "init", "--pki", pki]) == 2
    assert "a CA exists already" in capsys.readouterr().err


def test_publish_status_logs_call(
    broker: RunningBroker,
    ca: CertificateAuthority,
    agents: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = ["--pki", str(ca.dir), "--broker", f"127.0.0.1:{broker.port}", "--json"]
    for name in ("cli-a", "cli-b"):
        agents(name).wait_connected()
    wasm = tmp_path / "adder.wasm"
    wasm.write_bytes(adder_wasm(7))
    manifest = tmp_path / "manifest.json"
    body = manifest_for({"m": (wasm.as_uri(), wasm.read_bytes())}, {"adder": "m"})
    manifest.write_text(json.dumps({"deployment": body}))
    code, data = fleet(capsys, "publish", str(manifest), "--devices", "cli-a,cli-b", *conn)
    assert code == 0, data
    assert {d: s["reconcileStatus"] for d, s in data["devices"].items()} == {
        "cli-a": "ok",
        "cli-b": "ok",
    }
    code, status = fleet(capsys, "status", "--devices", "cli-a,cli-b", *conn)
    assert code == 0
    assert status["cli-b"]["deploymentStatus"]["deploymentId"] == data["deploymentId"]
    assert status["cli-b"]["online"] is True
    code, reply = fleet(capsys, "call", "cli-a", "adder", "add", "1", "2", *conn)
    assert code == 0 and reply["response"]["value"] == 10
    deadline = time.monotonic() + 10  # the agent refreshes its retained log every second
    while True:
        code, logs = fleet(capsys, "logs", "cli-a", *conn)
        assert code == 0
        if any("running (1 instances)" in line for line in logs["lines"]):
            break
        assert time.monotonic() < deadline, logs
        time.sleep(0.5)


def test_publish_of_an_invalid_manifest_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_text(
        json.dumps({"deployment": {"instanceSpecs": {}, "modules": {}, "publishTopics": {}}})
    )
    assert (
        cli_run(["fleet", "publish", str(manifest), "--devices", "x", "--pki", str(tmp_path)]) == 2
    )
    err = capsys.readouterr().err
    assert "bad.json: $.deployment.subscribeTopics: required key is missing" in err
