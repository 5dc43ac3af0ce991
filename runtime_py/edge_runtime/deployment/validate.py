"""Validation of deployment manifests: structure from the JSON Schema file, cross-references here.

The validator interprets the subset of JSON Schema that `schema/deployment.schema.json` uses
(type, required, properties, additionalProperties, propertyNames, enum, pattern, minLength,
minimum, allOf, $ref) so that the schema file is the one description of the shape; every error
names the JSON path (`$.deployment.instanceSpecs.sink.moduleId`) and the reason.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

PROJECT_KEY = "x-build-tools"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}
_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers keys given more than once (json keeps the last)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def parse_json(text: str) -> Any:
    """json.loads that keeps duplicate keys visible (ValueError on bad JSON)."""
    return json.loads(text, object_pairs_hook=_object_pairs)


@functools.cache
def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schema/deployment.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name != "boolean":
        return False
    return isinstance(value, _TYPES[name])


class SchemaValidator:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.errors: list[str] = []

    def resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        resolved: dict[str, Any] = node
        return resolved

    def check(self, value: Any, node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            self.check(value, self.resolve(node["$ref"]), path)
        for sub in node.get("allOf", ()):
            self.check(value, sub, path)
        expected = node.get("type")
        if expected is not None and not _is_type(value, expected):
            article = "an" if expected[0] in "aeiou" else "a"
            self.errors.append(f"{path}: expected {article} {expected}, got {type_name(value)}")
            return
        if "enum" in node and value not in node["enum"]:
            allowed = ", ".join(str(v) for v in node["enum"])
            self.errors.append(f"{path}: {json.dumps(value)} is not one of: {allowed}")
        if isinstance(value, str):
            self._string(value, node, path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            minimum = node.get("minimum")
            if minimum is not None and value < minimum:
                self.errors.append(f"{path}: must be at least {minimum}")
        if isinstance(value, dict):
            self._object(value, node, path)

    def _string(self, value: str, node: dict[str, Any], path: str) -> None:
        if len(value) < node.get("minLength", 0):
            self.errors.append(f"{path}: must not be empty")
            return
        pattern = node.get("pattern")
        if pattern is not None and not re.search(pattern, value):
            reason = node.get("x-message") or f"does not match {pattern}"
            self.errors.append(f"{path}: {reason} (got {json.dumps(value)})")

    def _object(self, value: dict[str, Any], node: dict[str, Any], path: str) -> None:
        for key in node.get("required", ()):
            if key not in value:
                self.errors.append(f"{child(path, key)}: required key is missing")
        properties = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        names = node.get("propertyNames")
        for key, item in value.items():
            if names is not None:
                self.check(key, names, child(path, key))
            if key in properties:
                self.check(item, properties[key], child(path, key))
            elif extra is False:
                self.errors.append(f"{child(path, key)}: unknown key")
            elif isinstance(extra, dict):
                self.check(item, extra, child(path, key))


def duplicates(value: Any, path: str = "$") -> list[str]:
    errors: list[str] = []
    if isinstance(value, JsonObject):
        errors += [f"{child(path, k)}: duplicate key" for k in dict.fromkeys(value.duplicates)]
    if isinstance(value, dict):
        for key, item in value.items():
            errors += duplicates(item, child(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errors += duplicates(item, child(path, i))
    return errors


def validate_shape(value: Any, definition: str, path: str) -> list[str]:
    """Errors of `value` against `#/$defs/<definition>` of the schema file."""
    validator = SchemaValidator(schema())
    validator.check(value, validator.resolve(f"#/$defs/{definition}"), path)
    return validator.errors


def cross_references(d: dict[str, Any], path: str) -> list[str]:
    """What a schema cannot say: every name a manifest uses must be defined in it."""
    errors: list[str] = []
    modules = d.get("modules", {})
    topics = {"publish": d.get("publishTopics", {}), "subscribe": d.get("subscribeTopics", {})}
    specs = d.get("instanceSpecs", {})
    for name, spec in specs.items():
        at = child(child(path, "instanceSpecs"), name)
        module_id = spec.get("moduleId")
        if isinstance(module_id, str) and module_id not in modules:
            errors.append(f"{child(at, 'moduleId')}: unknown module {json.dumps(module_id)}")
        for direction, defined in topics.items():
            for alias, key in (spec.get(direction) or {}).items():
                if isinstance(key, str) and key not in defined:
                    errors.append(
                        f"{child(child(at, direction), alias)}: unknown topic key "
                        f"{json.dumps(key)} (not in {direction}Topics)"
                    )
    for module_id, module in modules.items():
        at = child(child(path, "modules"), module_id)
        if module.get("downloadUrl") and not module.get("hash"):
            errors.append(f"{child(at, 'hash')}: required with a downloadUrl")
    project = d.get(PROJECT_KEY, {})
    for name in (project.get("instances") or {}) if isinstance(project, dict) else ():
        if name not in specs:
            errors.append(
                f"{child(child(child(path, PROJECT_KEY), 'instances'), name)}: "
                f"unknown instance {json.dumps(name)} (not in instanceSpecs)"
            )
    return errors
