"""The device side of the fleet: an agent that takes EVP-style deployment manifests over MQTT
with mutual TLS (`agent.py`, `executor.py`, `outbox.py`, `mqtt.py`, topic layout `topics.py`),
and the release steps `deploy` runs on the device (`device.py`, `service.py`). The operator side
(CA, publish, status, deploy over SSH) is in build_tools.fleet."""
