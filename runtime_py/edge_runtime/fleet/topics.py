"""The MQTT topic layout (one place). It follows EVP2's ThingsBoard-style names with the hub's
`me` replaced by the device id (a plain broker has no per-connection topic rewriting; the ACL
keeps each certificate inside its own `v1/devices/<CN>/` subtree):

| topic | direction | retained | payload |
|---|---|---|---|
| `v1/devices/<id>/attributes` | operator -> device | yes | `{"deployment": manifest}` (EVP) |
| `v1/devices/<id>/attributes/reported` | device -> operator | yes | `{"deploymentStatus": ..., "agent": ...}` |
| `v1/devices/<id>/telemetry` | device -> operator | no, QoS 1 | `{"<instance>/<key>": JSON, "seq": n}` (EVP + seq) |
| `v1/devices/<id>/rpc/request/<reqid>` | operator -> device | no | EVP `evp-c2d` direct command |
| `v1/devices/<id>/rpc/response/<reqid>` | device -> operator | no, QoS 1 | `{"direct-command-response": ...}` |
| `v1/devices/<id>/logs` | device -> operator | yes | `{"lines": [...]}` (the last lines of the agent log) |
| `v1/devices/<id>/online` | device -> operator | yes | `1`, or `0` (also the last will) |

Why `attributes/reported` instead of EVP's single `attributes` topic for both directions: the
deployment is a retained message on `attributes`, and a retained status on the same topic would
replace it.
"""

from __future__ import annotations

PREFIX = "v1/devices"


def deployment(device: str) -> str:
    return f"{PREFIX}/{device}/attributes"


def reported(device: str) -> str:
    return f"{PREFIX}/{device}/attributes/reported"


def telemetry(device: str) -> str:
    return f"{PREFIX}/{device}/telemetry"


def rpc_request(device: str, reqid: str = "+") -> str:
    return f"{PREFIX}/{device}/rpc/request/{reqid}"


def rpc_response(device: str, reqid: str = "+") -> str:
    return f"{PREFIX}/{device}/rpc/response/{reqid}"


def logs(device: str) -> str:
    return f"{PREFIX}/{device}/logs"


def online(device: str) -> str:
    return f"{PREFIX}/{device}/online"


def device_of(topic: str) -> str:
    """The device id in any topic of this layout."""
    parts = topic.split("/")
    return parts[2] if len(parts) > 2 and parts[0] + "/" + parts[1] == PREFIX else ""
