"""Deployment manifests in the public EVP shape: parsed, validated, and resolved into routes.

`{"deployment": {deploymentId, instanceSpecs, modules, publishTopics, subscribeTopics}}`, the
deployment as an object (EVP2) or as a JSON string holding it (EVP1). Settings of this project
(per-instance configuration, limits, target placement) live under `x-build-tools` inside the
deployment. See docs/pipeline.md for the semantics an executor follows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EdgeRuntimeError
from .validate import (
    PROJECT_KEY,
    cross_references,
    duplicates,
    parse_json,
    type_name,
    validate_shape,
)

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30


class DeploymentError(EdgeRuntimeError):
    """A deployment manifest is invalid or cannot be applied (names the JSON path or module)."""


@dataclass(frozen=True)
class InstanceLimits:
    memory_kib: int | None = None  # None: the target's limits.instance_memory_kib
    handler_timeout_ms: int | None = None  # None: the target's limits.call_timeout_ms
    queue_depth: int = 16
    send_timeout_ms: int = 1000
    max_restarts: int = 3


_LIMIT_KEYS = {
    "memoryKiB": "memory_kib",
    "handlerTimeoutMs": "handler_timeout_ms",
    "queueDepth": "queue_depth",
    "sendTimeoutMs": "send_timeout_ms",
    "maxRestarts": "max_restarts",
}


@dataclass(frozen=True)
class Topic:
    key: str
    type: str
    topic: str


@dataclass(frozen=True)
class ModuleSpec:
    module_id: str
    impl: str
    entry_point: str | None
    download_url: str | None  # None: nothing to download
    hash: str | None  # lower-case hex sha256


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    module_id: str
    publish: dict[str, str]  # alias -> publishTopics key
    subscribe: dict[str, str]  # alias -> subscribeTopics key
    config: dict[str, bytes] = field(default_factory=dict)
    limits: InstanceLimits = InstanceLimits()
    target: str | None = None


@dataclass(frozen=True)
class Receiver:
    instance: str
    alias: str  # the receiver's own subscribe alias: what its message callback sees as topic


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    evp_version: int  # 1: the deployment was a JSON string; 2: an object
    instances: dict[str, InstanceSpec]
    modules: dict[str, ModuleSpec]
    publish_topics: dict[str, Topic]
    subscribe_topics: dict[str, Topic]
    base_dir: Path | None = None  # relative downloadUrl values are relative to this

    def subscribers(self) -> dict[str, list[Receiver]]:
        """topic -> every (instance, subscribe alias) whose subscribeTopics entry names it."""
        by_topic: dict[str, list[Receiver]] = {}
        for spec in self.instances.values():
            for alias, key in spec.subscribe.items():
                topic = self.subscribe_topics[key].topic
                by_topic.setdefault(topic, []).append(Receiver(spec.name, alias))
        return by_topic

    def message_sinks(self) -> set[str]:
        """What `--messages N` counts: the instances that publish nothing (every instance when
        each one publishes)."""
        sinks = {n for n, s in self.instances.items() if not s.publish}
        return sinks or set(self.instances)

    def routes(self) -> dict[tuple[str, str], list[Receiver]]:
        """(sender, publish alias) -> every receiver: alias -> publishTopics key -> topic ->
        every subscribe alias whose subscribeTopics entry has the same topic (fan-out; a sender
        may receive its own messages; cycles are allowed). An alias not in the map is unknown."""
        by_topic = self.subscribers()
        out: dict[tuple[str, str], list[Receiver]] = {}
        for spec in self.instances.values():
            for alias, key in spec.publish.items():
                out[(spec.name, alias)] = by_topic.get(self.publish_topics[key].topic, [])
        return out


def load_deployment(path: Path) -> Deployment:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DeploymentError(f"cannot read deployment manifest {path}: {e.strerror}") from e
    return parse_deployment(text, str(path), path.resolve().parent)


def parse_deployment(
    text: str, source: str = "manifest", base_dir: Path | None = None
) -> Deployment:
    """Parses and validates a manifest; DeploymentError lists every error with its JSON path."""
    try:
        envelope = parse_json(text)
    except ValueError as e:
        raise DeploymentError(f"{source}: not valid JSON: {e}") from e
    errors = duplicates(envelope)
    if not isinstance(envelope, dict):
        errors.append("$: expected an object with the key deployment")
        _raise(source, errors)
    if "deployment" not in envelope:
        errors.append("$.deployment: required key is missing")
        _raise(source, errors)
    raw = envelope["deployment"]
    version, path = 2, "$.deployment"
    if isinstance(raw, str):  # EVP1: the manifest is a JSON string
        version, path = 1, "$.deployment(EVP1 string)"
        try:
            raw = parse_json(raw)
        except ValueError as e:
            errors.append(f"$.deployment: EVP1 manifest string is not valid JSON: {e}")
            _raise(source, errors)
        errors += duplicates(raw, path)
    elif not isinstance(raw, dict):
        errors.append(
            f"$.deployment: expected an object (EVP2) or a string (EVP1), got {type_name(raw)}"
        )
        _raise(source, errors)
    errors += validate_shape(raw, "deploymentEvp1" if version == 1 else "deployment", path)
    if not errors:
        errors += cross_references(raw, path)
    if errors:
        _raise(source, errors)
    return _model(raw, version, base_dir)


def _raise(source: str, errors: list[str]) -> None:
    raise DeploymentError(f"{source}: " + "; ".join(errors))


def _config_bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _model(d: dict[str, Any], version: int, base_dir: Path | None) -> Deployment:
    project = (d.get(PROJECT_KEY) or {}).get("instances") or {}
    instances = {}
    for name, spec in d["instanceSpecs"].items():
        extra = project.get(name, {})
        limits = InstanceLimits(
            **{_LIMIT_KEYS[k]: v for k, v in (extra.get("limits") or {}).items()}
        )
        instances[name] = InstanceSpec(
            name=name,
            module_id=spec["moduleId"],
            publish=dict(spec["publish"]),
            subscribe=dict(spec["subscribe"]),
            config={k: _config_bytes(v) for k, v in (extra.get("config") or {}).items()},
            limits=limits,
            target=extra.get("target"),
        )
    modules = {
        mid: ModuleSpec(
            module_id=mid,
            impl=m["moduleImpl"],
            entry_point=m.get("entryPoint"),
            download_url=m.get("downloadUrl") or None,
            hash=(m.get("hash") or "").lower() or None,
        )
        for mid, m in d["modules"].items()
    }

    def topics(section: str) -> dict[str, Topic]:
        return {k: Topic(k, t["type"], t["topic"]) for k, t in d[section].items()}

    return Deployment(
        deployment_id=d["deploymentId"],
        evp_version=version,
        instances=instances,
        modules=modules,
        publish_topics=topics("publishTopics"),
        subscribe_topics=topics("subscribeTopics"),
        base_dir=base_dir,
    )


def fetch_module(spec: ModuleSpec, base_dir: Path | None) -> bytes:
    """The module's bytes from its downloadUrl (file:, http(s): or a path relative to the
    manifest), refused unless their sha256 equals the manifest's hash."""
    what = f"module {spec.module_id}"
    if spec.impl != "wasm":
        raise DeploymentError(f"{what}: moduleImpl {spec.impl!r} is not supported (wasm only)")
    url = spec.download_url
    if url is None:
        raise DeploymentError(
            f"{what}: no downloadUrl, and this runtime has no preinstalled modules",
            hint="give the module's downloadUrl and hash in the manifest",
        )
    data = _download(url, base_dir, what)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.hash:
        raise DeploymentError(
            f"{what}: sha256 of {url} is {digest}, the manifest's hash is {spec.hash}",
            hint="nothing was started; fix the hash or the file",
        )
    return data


def _download(url: str, base_dir: Path | None, what: str) -> bytes:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                data: bytes = response.read()
                return data
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", None) or e
            raise DeploymentError(f"{what}: cannot download {url}: {reason}") from e
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    elif scheme and len(scheme) > 1:
        raise DeploymentError(
            f"{what}: downloadUrl scheme {scheme!r} is not supported (file, http, https)"
        )
    else:
        path = Path(url)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        return path.read_bytes()
    except OSError as e:
        raise DeploymentError(f"{what}: cannot read {path}: {e.strerror}") from e
