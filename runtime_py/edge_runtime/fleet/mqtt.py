"""MQTT client set-up shared by the agent and the operator: paho-mqtt over mutual TLS."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.x509.oid import NameOID

from ..errors import EdgeRuntimeError


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    cafile: Path
    certfile: Path
    keyfile: Path


def parse_broker(text: str, default_port: int = 8883) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    if not port.isdigit() or not host:
        raise EdgeRuntimeError(f"broker {text!r}: expected HOST or HOST:PORT")
    return host, int(port)


def tls_context(ep: Endpoint) -> ssl.SSLContext:
    for what, path in (("CA", ep.cafile), ("certificate", ep.certfile), ("key", ep.keyfile)):
        if not path.is_file():
            raise EdgeRuntimeError(f"MQTT {what} file {path} does not exist")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ep.cafile))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(ep.certfile), str(ep.keyfile))
    return ctx


def make_client(ep: Endpoint, client_id: str, clean_start: bool = True) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_start,
        protocol=mqtt.MQTTv311,
    )
    client.tls_set_context(tls_context(ep))
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.on_socket_open = _no_delay
    return client


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Small messages leave at once (no Nagle delay waiting for the peer's delayed ACK)."""
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def close_client(client: mqtt.Client) -> None:
    """Disconnects, stops the network thread and closes every socket paho holds (its wake-up
    socket pair included, which paho 2.2 leaves open when a connection was refused)."""
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()  # no public API closes the socket pair


def common_name(cert_pem: bytes) -> str:
    """The CN of a PEM certificate: a device's id."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        raise EdgeRuntimeError("certificate has no common name (CN): cannot tell the device id")
    return str(attrs[0].value)
