"""A constraint's `spec.parameters` against its template's `openAPIV3Schema`.

The API server validates a constraint against the CRD that Gatekeeper generates from the
template; pathwarden reads constraints from files, so it validates here, at load time,
with the file and the offending field in the message.

Validation uses the `jsonschema` library rather than a hand-written checker: the subset
of OpenAPI v3 that CRDs allow (type, properties, items, required, enum, pattern, minimum /
maximum, minItems, additionalProperties, oneOf / anyOf / allOf / not, …) is JSON Schema
with the same meaning, and a full validator gets every combination and error path right.
The few OpenAPI-only spellings are rewritten first: `nullable: true` admits null, and
`x-kubernetes-int-or-string` admits an integer or a string; other `x-kubernetes-*`
extensions are annotations that do not constrain values. Defaults (`default:`) are filled
in before validation, as the API server does for structural schemas.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonschema


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI v3 schema (as in a CRD) as a JSON Schema for `jsonschema`."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_json_schema(v) for k, v in (value or {}).items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value)
        elif not key.startswith("x-kubernetes-") and key != "nullable":
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], **out}
    if schema.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def with_defaults(value: Any, schema: Any) -> Any:
    """`value` with the schema's `default`s filled in where a property is absent."""
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        out = dict(value)
        for name, sub in properties.items():
            if name not in out and isinstance(sub, Mapping) and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = with_defaults(out[name], sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [with_defaults(v, schema["items"]) for v in value]
    return value


def schema_problem(schema: Any) -> str | None:
    """Why a template's openAPIV3Schema cannot be used, or None."""
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        return "openAPIV3Schema must be a mapping"
    json_schema = to_json_schema(schema)
    try:
        jsonschema.validators.validator_for(json_schema, jsonschema.Draft7Validator) \
            .check_schema(json_schema)
    except jsonschema.SchemaError as exc:
        return f"openAPIV3Schema is not a valid schema: {exc.message}"
    return None


Path = tuple[str | int, ...]


def check_parameters(parameters: Any, schema: Any
                     ) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
    """Parameters with defaults, and (path inside the parameters, message) per violation
    of the schema, so the caller can point at the offending line."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        return {}, [((), f"spec.parameters must be a mapping, not "
                         f"{type(parameters).__name__}")]
    if not isinstance(schema, Mapping) or not schema:
        return parameters, []
    filled = with_defaults(parameters, schema)
    problem = schema_problem(schema)
    if problem:
        return filled, [((), f"the template's {problem}")]
    json_schema = to_json_schema(schema)
    validator = jsonschema.validators.validator_for(json_schema,
                                                    jsonschema.Draft7Validator)(json_schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    return filled, [(tuple(e.absolute_path),
                     f"spec.parameters{_path(e.absolute_path)}: {e.message}") for e in errors]


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
