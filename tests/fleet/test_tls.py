"""The broker's mutual-TLS listener, with the fleet CA: who gets in."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from pathlib import Path

import pytest

from build_tools.fleet.operator import Session
from build_tools.fleet.pki import CertificateAuthority, PkiError
from edge_runtime.errors import DeviceError
from edge_runtime.fleet.mqtt import common_name

from .conftest import RunningBroker


def connects(
    broker: RunningBroker, ca: CertificateAuthority, name: str, cafile: Path | None = None
) -> bool:
    ep = broker.endpoint(ca, name)
    if cafile is not None:  # a client trusting the fleet CA but holding another CA's certificate
        ep = type(ep)(ep.host, ep.port, cafile, ep.certfile, ep.keyfile)
    try:
        with Session(ep, timeout=3):
            return True
    except (DeviceError, ssl.SSLError, OSError):
        return False


def test_good_certificate_is_accepted(broker: RunningBroker, ca: CertificateAuthority) -> None:
    ca.issue("dev-good") if "dev-good" not in ca.issued() else None
    assert connects(broker, ca, "dev-good")


def test_no_client_certificate_is_refused(broker: RunningBroker, ca: CertificateAuthority) -> None:
    ctx = ssl.create_default_context(cafile=str(ca.ca_cert_path))
    with (
        socket.create_connection(("127.0.0.1", broker.port), 5) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        # TLS 1.3: the server's refusal arrives after the client's handshake finished.
        tls.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x1e\x00\x00")
        if not tls.recv(4):
            raise ConnectionError("closed by the broker")


def test_certificate_of_another_ca_is_refused(
    broker: RunningBroker, ca: CertificateAuthority, tmp_path: Path
) -> None:
    other = CertificateAuthority(tmp_path / "other")
    other.init(common_name="someone else's CA")
    other.issue("dev-other")
    ep = broker.endpoint(ca, "x")
    ep = type(ep)(
        ep.host, ep.port, ca.ca_cert_path, other.cert_path("dev-other"), other.key_path("dev-other")
    )
    with (
        pytest.raises(DeviceError, match=r"refused|no answer|cannot connect"),
        Session(ep, timeout=3),
    ):
        pass


def test_expired_certificate_is_refused(broker: RunningBroker, ca: CertificateAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    ca.issue(
        "dev-expired", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    )
    assert not connects(broker, ca, "dev-expired")


def test_revoked_certificate_is_refused(broker: RunningBroker, ca: CertificateAuthority) -> None:
    ca.issue("dev-revoked")
    assert connects(broker, ca, "dev-revoked")
    ca.revoke("dev-revoked")
    broker.broker.restart()  # mosquitto reads the CRL when it starts
    assert not connects(broker, ca, "dev-revoked")
    assert connects(broker, ca, "operator")


def test_device_id_is_the_certificate_cn(ca: CertificateAuthority) -> None:
    issued = ca.issue("dev-cn-42")
    assert common_name(issued.cert.read_bytes()) == "dev-cn-42"


def test_issuing_twice_names_the_device(ca: CertificateAuthority) -> None:
    ca.issue("dev-twice")
    with pytest.raises(PkiError, match="a certificate for dev-twice exists already"):
        ca.issue("dev-twice")


def test_bad_device_name(ca: CertificateAuthority) -> None:
    with pytest.raises(PkiError, match="name 'a/b'"):
        ca.issue("a/b")
