"""Host side of the device protocol (docs/protocol.md): framing, messages, client, streams."""

from build_tools.protocol.client import CallResult, DeviceClient
from build_tools.protocol.streams import ByteStream, ProcessStream, open_url

__all__ = ["ByteStream", "CallResult", "DeviceClient", "ProcessStream", "open_url"]
