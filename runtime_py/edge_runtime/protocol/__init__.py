"""Host side of the device protocol (docs/protocol.md): framing, messages, client, streams."""

from edge_runtime.protocol.client import CallResult, DeviceClient
from edge_runtime.protocol.streams import ByteStream, ProcessStream, open_url

__all__ = ["ByteStream", "CallResult", "DeviceClient", "ProcessStream", "open_url"]
