"""Fleet deployment, the operator side: the CA and certificates (`pki.py`), publish, status and
logs over MQTT (`operator.py`), deploy over SSH (`deploy.py`) and the gateway for devices the
tools drive (`gateway.py`). What runs on a device (the agent) is edge_runtime.fleet; topic
layout: edge_runtime/fleet/topics.py.
"""
