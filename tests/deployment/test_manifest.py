"""Deployment manifests: good and bad ones as data files, each bad one with its exact message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_runtime.deployment import DeploymentError, load_deployment, parse_deployment
from edge_runtime.deployment.validate import schema
from tests.deployment.conftest import MANIFESTS

BAD = {
    "unknown_module": '$.deployment.instanceSpecs.sink_instance.moduleId: unknown module "sink-modul"',
    "missing_topic_key": "$.deployment.instanceSpecs.sink_instance.subscribe.my-topic: unknown "
    'topic key "my-topic-sub" (not in subscribeTopics)',
    "bad_hash_format": "$.deployment.modules.sink-module.hash: bad hash format: expected the "
    'sha256 of the module as 64 hex digits (got "sha256:1234")',
    "reserved_name": '$.deployment.instanceSpecs["$agent"]: reserved name: names must not start '
    "with '$' (got \"$agent\")",
    "duplicate_instance": "$.deployment.instanceSpecs.sink_instance: duplicate key",
    "missing_subscribe": "$.deployment.instanceSpecs.source_instance.subscribe: required key is "
    "missing",
    "missing_publish_topics": "$.deployment.publishTopics: required key is missing",
    "topic_type": '$.deployment.publishTopics.my-topic-publication.type: "mqtt" is not one of: '
    "local",
    "url_without_hash": "$.deployment.modules.source-module.hash: required with a downloadUrl",
    "module_impl": '$.deployment.modules.source-module.moduleImpl: "native" is not one of: '
    "wasm, docker, dlfcn, spawn, python",
    "instance_not_object": "$.deployment.instanceSpecs.sink_instance: expected an object, got a "
    "string",
    "evp1_missing_version": "$.deployment(EVP1 string).instanceSpecs.instance-sender.version: "
    "required key is missing",
    "deployment_number": "$.deployment: expected an object (EVP2) or a string (EVP1), got an "
    "integer",
    "not_json": "not valid JSON: Expecting property name enclosed in double quotes: line 1 "
    "column 37 (char 36)",
    "project_unknown_instance": '$.deployment.x-build-tools.instances.ghost: unknown instance "ghost" '
    "(not in instanceSpecs)",
    "project_unknown_limit": "$.deployment.x-build-tools.instances.sink_instance.limits.queueSize: "
    "unknown key",
    "project_limit_range": "$.deployment.x-build-tools.instances.sink_instance.limits.queueDepth: "
    "must be at least 1",
}


def test_every_bad_manifest_file_has_an_expected_message() -> None:
    assert sorted(p.stem for p in (MANIFESTS / "bad").glob("*.json")) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_manifest_names_path_and_reason(name: str) -> None:
    path = MANIFESTS / "bad" / f"{name}.json"
    with pytest.raises(DeploymentError) as e:
        parse_deployment(path.read_text(), path.name)
    assert str(e.value) == f"{name}.json: {BAD[name]}"


def test_several_faults_are_all_named() -> None:
    text = (MANIFESTS / "good" / "evp2_public_example.json").read_text()
    m = json.loads(text)
    d = m["deployment"]
    d["instanceSpecs"]["sink_instance"]["moduleId"] = "nope"
    d["instanceSpecs"]["source_instance"]["publish"]["my-topic"] = "nope"
    with pytest.raises(DeploymentError) as e:
        parse_deployment(json.dumps(m), "m")
    assert str(e.value) == (
        'm: $.deployment.instanceSpecs.source_instance.publish.my-topic: unknown topic key "nope" '
        '(not in publishTopics); $.deployment.instanceSpecs.sink_instance.moduleId: unknown module "nope"'
    )


def test_public_evp2_example_parses_and_routes() -> None:
    dep = load_deployment(MANIFESTS / "good" / "evp2_public_example.json")
    assert dep.evp_version == 2
    assert dep.deployment_id == "1f4a4b5e-6f3e-4bd3-9d5c-0d2a5c9f3e11"
    assert set(dep.instances) == {"source_instance", "sink_instance"}
    routes = dep.routes()
    [receiver] = routes[("source_instance", "my-topic")]
    assert (receiver.instance, receiver.alias) == ("sink_instance", "my-topic")
    assert dep.modules["sink-module"].download_url == "evp_sink.wasm"
    assert dep.base_dir == (MANIFESTS / "good").resolve()


def test_evp1_manifest_string_with_version_and_entry_point() -> None:
    dep = load_deployment(MANIFESTS / "good" / "evp1_messaging.json")
    assert dep.evp_version == 1
    [receiver] = dep.routes()[("instance-sender", "sender-topic")]
    # The receiver sees its own alias, not the sender's.
    assert (receiver.instance, receiver.alias) == ("instance-receiver", "receiver-topic")


def test_project_settings_are_read_from_the_namespaced_key() -> None:
    m = json.loads((MANIFESTS / "good" / "evp2_public_example.json").read_text())
    m["deployment"]["x-build-tools"] = {
        "instances": {
            "sink_instance": {
                "config": {"delay_ms": "5", "table": {"a": 1}},
                "limits": {"queueDepth": 4, "sendTimeoutMs": 0, "memoryKiB": 256},
                "target": "host",
            }
        }
    }
    spec = parse_deployment(json.dumps(m)).instances["sink_instance"]
    assert spec.config == {"delay_ms": b"5", "table": b'{"a": 1}'}
    assert (spec.limits.queue_depth, spec.limits.send_timeout_ms, spec.limits.memory_kib) == (
        4,
        0,
        256,
    )
    assert spec.limits.max_restarts == 3  # default
    assert spec.target == "host"


def test_schema_file_is_json_schema_with_the_evp_keys() -> None:
    s = schema()
    assert s["$schema"].startswith("https://json-schema.org/")
    required = s["$defs"]["deployment"]["required"]
    assert required == [
        "deploymentId",
        "instanceSpecs",
        "modules",
        "publishTopics",
        "subscribeTopics",
    ]
    assert s["$defs"]["instanceSpecEvp1"]["allOf"][1]["required"] == ["version", "entryPoint"]


def test_unreadable_manifest_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match=r"cannot read deployment manifest .*missing\.json"):
        load_deployment(tmp_path / "missing.json")
