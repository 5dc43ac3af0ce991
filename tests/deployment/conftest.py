"""Fixtures for deployments: the EVP modules of guests/src/evp/ built once by the guest
toolchain, and manifests pointing at them (downloadUrl + the real sha256)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from build_tools.devices.host import runtime_for
from build_tools.guests import build_evp_modules
from build_tools.targets import load_target
from edge_runtime.deployment import Deployment, parse_deployment
from edge_runtime.host.pipeline import Pipeline, PipelineEvent
from edge_runtime.host.runtime import HostRuntime

MANIFESTS = Path(__file__).parent / "manifests"


@pytest.fixture(scope="session")
def evp_modules() -> dict[str, Path]:
    return build_evp_modules(load_target("host"))


def module_entry(path: Path, url: str | None = None) -> dict[str, str]:
    return {
        "moduleImpl": "wasm",
        "entryPoint": "main",
        "downloadUrl": url or path.resolve().as_uri(),
        "hash": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def manifest(
    modules: dict[str, Path],
    instances: dict[str, tuple[str, dict[str, str], dict[str, str]]],
    project: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """instances: name -> (module, publish {alias: topic}, subscribe {alias: topic}); one
    publishTopics / subscribeTopics entry per topic, keyed "<topic>-pub" / "<topic>-sub"."""
    topics_pub = {t for _, pub, _ in instances.values() for t in pub.values()}
    topics_sub = {t for _, _, sub in instances.values() for t in sub.values()}
    d: dict[str, Any] = {
        "deploymentId": "test",
        "instanceSpecs": {
            name: {
                "moduleId": mod,
                "publish": {a: f"{t}-pub" for a, t in pub.items()},
                "subscribe": {a: f"{t}-sub" for a, t in sub.items()},
            }
            for name, (mod, pub, sub) in instances.items()
        },
        "modules": {m: module_entry(modules[m]) for m in {mod for mod, _, _ in instances.values()}},
        "publishTopics": {f"{t}-pub": {"type": "local", "topic": t} for t in sorted(topics_pub)},
        "subscribeTopics": {f"{t}-sub": {"type": "local", "topic": t} for t in sorted(topics_sub)},
    }
    if project:
        d["x-build-tools"] = {"instances": project}
    return {"deployment": d}


def deployment_of(m: dict[str, Any]) -> Deployment:
    return parse_deployment(json.dumps(m), "test manifest")


@pytest.fixture
def host_runtime() -> Iterator[HostRuntime]:
    runtime = runtime_for(load_target("host"), {"timeout_ms": 2000})
    yield runtime
    runtime.close()


RunPipeline = Callable[..., Pipeline]


@pytest.fixture
def run_pipeline(host_runtime: HostRuntime) -> Iterator[RunPipeline]:
    """Starts pipelines that are stopped at the end of the test; events go to .events."""
    started: list[Pipeline] = []

    def start(m: dict[str, Any]) -> Pipeline:
        events: list[PipelineEvent] = []
        pipeline = Pipeline(deployment_of(m), host_runtime, "host", on_event=events.append)
        pipeline.events = events  # type: ignore[attr-defined]
        started.append(pipeline)
        pipeline.start()
        return pipeline

    yield start
    for pipeline in started:
        pipeline.stop()
