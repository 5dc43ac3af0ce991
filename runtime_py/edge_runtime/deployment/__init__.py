"""Deployment manifests (the public EVP shape): model, validation against the JSON Schema file,
module download with hash check, and the routing table an executor follows."""

from .manifest import (
    Deployment,
    DeploymentError,
    InstanceLimits,
    InstanceSpec,
    ModuleSpec,
    Receiver,
    Topic,
    fetch_module,
    load_deployment,
    parse_deployment,
)

__all__ = [
    "Deployment",
    "DeploymentError",
    "InstanceLimits",
    "InstanceSpec",
    "ModuleSpec",
    "Receiver",
    "Topic",
    "fetch_module",
    "load_deployment",
    "parse_deployment",
]
