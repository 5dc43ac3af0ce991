"""Fixtures for deployments: the EVP modules of guests/src/evp/ built once by the guest
toolchain, manifests pointing at them (downloadUrl + the real sha256), and pipelines started on
a runtime: the Python host's executor, or a C runtime's over the device protocol (the same
tests, the same assertions: docs/pipeline.md states the semantics for both)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from build_tools.devices.base import Dut, open_device
from build_tools.devices.host import runtime_for
from build_tools.devices.posix import runtime_binary
from build_tools.guests import build_evp_modules
from build_tools.targets import Target, load_target, with_runtime
from edge_runtime.deployment import Deployment, parse_deployment
from edge_runtime.deployment.runner import DeploymentRun
from edge_runtime.host.pipeline import PipelineEvent
from edge_runtime.host.runtime import HostRuntime
from tests.qemu.conftest import qemu_children

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


# Where the shared pipeline tests run: the Python host, and the C runtime as a process and on
# the emulated MCU, each with WAMR (it loads the EVP modules at run time) and with wasm2c (the
# target compiles the test modules in: guests.evp_modules).
RUNTIMES: dict[str, Target] = {
    "host": load_target("host"),
    "posix": with_runtime(load_target("posix"), engine="wamr"),
    "posix-wasm2c": with_runtime(load_target("posix"), engine="wasm2c"),
    "qemu-rv32": with_runtime(load_target("qemu-rv32"), engine="wamr"),
    "qemu-rv32-wasm2c": with_runtime(load_target("qemu-rv32"), engine="wasm2c"),
}
HOST_OPTIONS = {"timeout_ms": 2000}  # as the host_runtime fixture


def runtimes(instances: int, differs: dict[str, str] | None = None) -> list[Any]:
    """The runtimes that hold a deployment of this many instances (the target's limits).
    differs: runtime -> a known difference from docs/pipeline.md (a bug to fix there): those
    cases are strict xfails naming it, so they fail once it is fixed."""
    out = []
    for name, target in RUNTIMES.items():
        if target.limits.max_instances < instances:
            continue
        reason = (differs or {}).get(name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


_BUILT: dict[str, dict[str, Any]] = {}


def device_options(runtime: str) -> dict[str, Any]:
    """Options that open the runtime's device without rebuilding it each time (built once per
    session; the host has nothing to build)."""
    if runtime not in _BUILT:
        target = RUNTIMES[runtime]
        _BUILT[runtime] = (
            dict(HOST_OPTIONS)
            if target.runtime.kind == "python-host"
            else {"binary": runtime_binary(target, {})}
        )
    return _BUILT[runtime]


@pytest.fixture
def runtime() -> str:
    """The runtime of a test that is not parametrised over several."""
    return "host"


RunPipeline = Callable[..., DeploymentRun]


@pytest.fixture
def run_pipeline(runtime: str) -> Iterator[RunPipeline]:
    """Starts pipelines on `runtime` that are stopped at the end of the test (and their device
    closed: no runtime process or QEMU is left); events go to .events."""
    started: list[DeploymentRun] = []
    duts: list[Dut] = []
    before = set(qemu_children())

    def start(m: dict[str, Any] | Deployment, *, started_now: bool = True) -> Any:
        events: list[PipelineEvent] = []
        dut = open_device(RUNTIMES[runtime], device_options(runtime))
        duts.append(dut)
        dut.open()
        deployment = m if isinstance(m, Deployment) else deployment_of(m)
        pipeline = dut.deployment(deployment, events.append)
        pipeline.events = events  # type: ignore[attr-defined]
        started.append(pipeline)
        if started_now:
            pipeline.start()
        return pipeline

    try:
        yield start
    finally:
        for pipeline in started:
            pipeline.stop()
        for dut in duts:
            dut.close()
        assert not set(qemu_children()) - before, "QEMU left running"
