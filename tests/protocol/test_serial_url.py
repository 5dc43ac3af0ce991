"""open_url: the client over pyserial's socket:// transport (the way QEMU's serial port is
reached), with the test device's stdin/stdout bound to the accepted TCP connection."""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

import pytest

from edge_runtime.errors import DeviceError
from edge_runtime.protocol import DeviceClient, open_url
from edge_runtime.protocol.messages import Kind

log = logging.getLogger(__name__)


def test_client_over_socket_url(testdev_binary: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        link = open_url(f"socket://127.0.0.1:{port}", timeout=0.05)
        conn, _ = server.accept()
        argv = [str(testdev_binary)]
        log.debug("run: %s (stdio on a TCP connection)", argv)
        with conn:
            proc = subprocess.Popen(
                argv, stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.PIPE
            )
    try:
        client = DeviceClient(link, "tcp-testdev", timeout=2.0)
        assert client.hello().max_payload == 1024
        data = bytes(range(256)) * 20
        assert client.put(Kind.MODULE, "g", data)
        inst = client.instantiate("g")
        assert client.call(inst, "add", [20, 22]).result == 42
    finally:
        link.close()  # the device reads EOF and exits
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    # HELLO, PUT_BEGIN, 6 x PUT_CHUNK (5120 bytes), PUT_END, INSTANTIATE, CALL
    assert b"link closed; frames ok 11, bad crc 0, bad frame 0" in err


def test_open_url_failure_is_a_device_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(DeviceError, match=rf"cannot open socket://127.0.0.1:{port}: "):
        open_url(f"socket://127.0.0.1:{port}")
