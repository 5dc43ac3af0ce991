"""Fleet deployment: a device agent that takes EVP-style deployment manifests over MQTT with
mutual TLS, the operator side (CA, certificates, publish, status, logs) and deploy over SSH.

Topic layout: `topics.py`. What runs on a device: `agent.py` (plus `executor.py`, `outbox.py`);
what the operator runs: `pki.py`, `operator.py`, `deploy.py`.
"""
