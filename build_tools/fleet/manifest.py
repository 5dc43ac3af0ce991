"""A minimal reader of EVP deployment manifests: what the agent needs (instances, modules with
URL and sha256). Temporary: replaced by the project's deployment model (`build_tools/deployment/`)
once it lands, so there is one reader.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import BuildToolsError

HASH_RE = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(BuildToolsError):
    """A deployment manifest is malformed (names the field and the reason)."""


@dataclass(frozen=True)
class ModuleSpec:
    module_id: str
    impl: str
    url: str
    sha256: str


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    module_id: str


@dataclass(frozen=True)
class Manifest:
    deployment_id: str
    instances: dict[str, InstanceSpec]
    modules: dict[str, ModuleSpec]
    raw: dict[str, Any]


def deployment_id_of(body: dict[str, Any]) -> str:
    """What the tools set `deploymentId` to: the sha256 of the canonical JSON without it."""
    rest = {k: v for k, v in body.items() if k != "deploymentId"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()


def unwrap(message: Any) -> dict[str, Any]:
    """The manifest body from `{"deployment": ...}` (EVP2: an object; EVP1: a JSON string)."""
    if not isinstance(message, dict) or "deployment" not in message:
        raise ManifestError('deployment message: expected {"deployment": ...}')
    body = message["deployment"]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as e:
            raise ManifestError(f"deployment: not valid JSON ({e})") from e
    if not isinstance(body, dict):
        raise ManifestError("deployment: expected a JSON object")
    return body


def _table(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise ManifestError(f"deployment field '{key}': missing or not an object")
    return value


def parse(body: dict[str, Any]) -> Manifest:
    dep_id = body.get("deploymentId")
    if not isinstance(dep_id, str) or not dep_id:
        raise ManifestError("deployment field 'deploymentId': missing or not a string")
    modules: dict[str, ModuleSpec] = {}
    for mid, m in _table(body, "modules").items():
        where = f"deployment field 'modules.{mid}'"
        if not isinstance(m, dict):
            raise ManifestError(f"{where}: expected an object")
        impl = m.get("moduleImpl")
        if impl != "wasm":
            raise ManifestError(f"{where}.moduleImpl: {impl!r} is not supported (only 'wasm')")
        url = m.get("downloadUrl") or ""
        digest = str(m.get("hash") or "").lower()
        if not HASH_RE.match(digest):
            raise ManifestError(f"{where}.hash: expected the hex sha256 of the module")
        modules[mid] = ModuleSpec(mid, impl, str(url), digest)
    instances: dict[str, InstanceSpec] = {}
    for name, spec in _table(body, "instanceSpecs").items():
        where = f"deployment field 'instanceSpecs.{name}'"
        if name.startswith("$"):
            raise ManifestError(f"{where}: instance names must not start with '$'")
        if not isinstance(spec, dict):
            raise ManifestError(f"{where}: expected an object")
        module_id = spec.get("moduleId")
        if module_id not in modules:
            raise ManifestError(f"{where}.moduleId: {module_id!r} is not in 'modules'")
        instances[name] = InstanceSpec(name, str(module_id))
    return Manifest(dep_id, instances, modules, body)
