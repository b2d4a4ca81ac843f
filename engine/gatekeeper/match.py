"""A constraint's `spec.match`: checked when it loads, judged in Rego when it runs.

The judging is a Rego library (`MATCH_REGO`) that every constraint's generated module
calls with its own `spec.match` as a literal, so admission, audit, `eval` and `verify`,
on the embedded evaluator and on a remote OPA alike, decide "does this constraint apply?"
with one piece of code. It follows Gatekeeper's matcher (pkg/mutation/match): every
criterion must hold, for the object or, on UPDATE and DELETE, the old object; a Namespace
is matched by its own name and labels; cluster-scoped objects pass the namespace criteria;
`namespaces`, `excludedNamespaces` and `name` take a `*` at the front, back or both.

A namespaced object's `namespaceSelector` is judged on its Namespace in `data.inventory`
(Gatekeeper reads it from its cache); a Namespace that is not in the inventory does not
match. Only the objects' `metadata` is read here, so the input handed to rego-cpp can
still be pruned to what the templates read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MATCH_PACKAGE = "pathwarden.gatekeeper.match"
MATCH_MODULE_NAME = "pathwarden/gatekeeper/match.rego"
KEYS = ("kinds", "scope", "namespaces", "excludedNamespaces", "labelSelector",
        "namespaceSelector", "name", "source")
SCOPES = ("*", "Cluster", "Namespaced")
SOURCES = ("All", "Original", "Generated")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

MATCH_REGO = """package pathwarden.gatekeeper.match

import rego.v1

# Gatekeeper's spec.match on input.review; written for pathwarden (see match.py).

matches(m) if {
	object.get(m, "source", "All") != "Generated"
	kinds_match(m)
	some meta in review_metadata
	scope_match(m, meta)
	namespaces_match(m, meta)
	not excluded(m, meta)
	selector_match(object.get(m, "labelSelector", null), labels_of(meta))
	namespace_selector_match(m, meta)
	name_match(m, meta)
}

review_metadata contains meta if {
	meta := input.review.object.metadata
	is_object(meta)
}

review_metadata contains meta if {
	meta := input.review.oldObject.metadata
	is_object(meta)
}

default review_group := ""

review_group := group if {
	group := input.review.kind.group
	is_string(group)
}

is_namespace if {
	input.review.kind.kind == "Namespace"
	review_group == ""
}

kinds_match(m) if count(object.get(m, "kinds", [])) == 0

kinds_match(m) if {
	some entry in m.kinds
	listed(object.get(entry, "kinds", []), input.review.kind.kind)
	listed(object.get(entry, "apiGroups", []), review_group)
}

listed(values, _) if count(values) == 0

listed(values, _) if "*" in values

listed(values, value) if value in values

has_namespace(_) if input.review.namespace != ""

has_namespace(meta) if object.get(meta, "namespace", "") != ""

namespace_of(meta) := name if {
	is_namespace
	name := object.get(meta, "name", "")
} else := namespace if {
	namespace := input.review.namespace
	namespace != ""
} else := namespace if {
	namespace := object.get(meta, "namespace", "")
	namespace != ""
}

scope_match(m, _) if {
	scope := object.get(m, "scope", "*")
	not scope in {"Cluster", "Namespaced"}
}

scope_match(m, _) if {
	m.scope == "Cluster"
	is_namespace
}

scope_match(m, meta) if {
	m.scope == "Cluster"
	not has_namespace(meta)
}

scope_match(m, meta) if {
	m.scope == "Namespaced"
	not is_namespace
	has_namespace(meta)
}

namespaces_match(m, _) if count(object.get(m, "namespaces", [])) == 0

namespaces_match(m, meta) if {
	count(m.namespaces) > 0
	not has_namespace_name(meta)
}

namespaces_match(m, meta) if {
	some pattern in m.namespaces
	wildcard(pattern, namespace_of(meta))
}

has_namespace_name(meta) if {
	_ := namespace_of(meta)
}

excluded(m, meta) if {
	some pattern in object.get(m, "excludedNamespaces", [])
	wildcard(pattern, namespace_of(meta))
}

labels_of(meta) := labels if {
	labels := object.get(meta, "labels", {})
	is_object(labels)
} else := {} if {
	true
}

selector_match(selector, _) if selector == null

selector_match(selector, labels) if {
	is_object(selector)
	every key, value in object.get(selector, "matchLabels", {}) {
		labels[key] == value
	}
	every expression in object.get(selector, "matchExpressions", []) {
		expression_match(expression, labels)
	}
}

expression_match(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_match(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression_match(e, labels) if {
	e.operator == "Exists"
	e.key in object.keys(labels)
}

expression_match(e, labels) if {
	e.operator == "DoesNotExist"
	not e.key in object.keys(labels)
}

namespace_selector_match(m, _) if object.get(m, "namespaceSelector", null) == null

namespace_selector_match(m, meta) if {
	not is_namespace
	not has_namespace(meta)
}

namespace_selector_match(m, meta) if {
	is_namespace
	selector_match(m.namespaceSelector, labels_of(meta))
}

namespace_selector_match(m, meta) if {
	not is_namespace
	namespace := namespace_of(meta)
	found := data.inventory.cluster.v1.Namespace[namespace]
	selector_match(m.namespaceSelector, labels_of(object.get(found, "metadata", {})))
}

name_match(m, _) if object.get(m, "name", "") == ""

name_match(m, meta) if wildcard(m.name, object.get(meta, "name", ""))

wildcard(pattern, value) if {
	startswith(pattern, "*")
	endswith(pattern, "*")
	contains(value, trim_suffix(trim_prefix(pattern, "*"), "*"))
}

wildcard(pattern, value) if {
	startswith(pattern, "*")
	not endswith(pattern, "*")
	endswith(value, trim_prefix(pattern, "*"))
}

wildcard(pattern, value) if {
	endswith(pattern, "*")
	not startswith(pattern, "*")
	startswith(value, trim_suffix(pattern, "*"))
}

wildcard(pattern, value) if {
	not startswith(pattern, "*")
	not endswith(pattern, "*")
	pattern == value
}
"""


def check_match(match: Any) -> tuple[dict[str, Any], list[str]]:
    """The match without null fields, and what is wrong with it (empty when valid)."""
    if match is None:
        return {}, []
    if not isinstance(match, Mapping):
        return {}, ["spec.match must be a mapping"]
    clean = {k: v for k, v in match.items() if v is not None}
    errors = [f"spec.match has unknown key {k!r}; known keys: {list(KEYS)}"
              for k in clean if k not in KEYS]
    for entry in _list(clean, "kinds", errors):
        if not isinstance(entry, Mapping):
            errors.append("spec.match.kinds entries must be mappings with apiGroups and kinds")
            continue
        for key in ("apiGroups", "kinds"):
            _strings(entry.get(key) or [], f"spec.match.kinds[].{key}", errors)
    for key in ("namespaces", "excludedNamespaces"):
        _strings(_list(clean, key, errors), f"spec.match.{key}", errors)
    if clean.get("scope", "*") not in SCOPES:
        errors.append(f"spec.match.scope is {clean['scope']!r}; use one of {list(SCOPES)}")
    if clean.get("source", "All") not in SOURCES:
        errors.append(f"spec.match.source is {clean['source']!r}; use one of {list(SOURCES)}")
    if not isinstance(clean.get("name", ""), str):
        errors.append("spec.match.name must be a string")
    for key in ("labelSelector", "namespaceSelector"):
        if key in clean:
            errors.extend(_selector_errors(clean[key], f"spec.match.{key}"))
    return clean, errors


def policy_kinds(match: Mapping[str, Any]) -> tuple[str, ...]:
    """The kinds a constraint can apply to (empty: any kind), so the engine's per-kind
    plan skips it cheaply; the Rego match still checks the API groups."""
    entries = match.get("kinds") or []
    kinds: list[str] = []
    for entry in entries:
        names = entry.get("kinds") or []
        if not names or "*" in names:
            return ()
        kinds.extend(n for n in names if n not in kinds)
    return tuple(kinds)


def _list(match: Mapping[str, Any], key: str, errors: list[str]) -> list[Any]:
    value = match.get(key) or []
    if not isinstance(value, list):
        errors.append(f"spec.match.{key} must be a list")
        return []
    return value


def _strings(values: Any, where: str, errors: list[str]) -> None:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        errors.append(f"{where} must be a list of strings")


def _selector_errors(selector: Any, where: str) -> list[str]:
    if not isinstance(selector, Mapping):
        return [f"{where} must be a mapping with matchLabels and/or matchExpressions"]
    errors = [f"{where} has unknown key {k!r}" for k in selector
              if k not in ("matchLabels", "matchExpressions")]
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        errors.append(f"{where}.matchLabels must map label keys to string values")
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return [*errors, f"{where}.matchExpressions must be a list"]
    for e in expressions:
        if not isinstance(e, Mapping) or not isinstance(e.get("key"), str):
            errors.append(f"{where}.matchExpressions entries need a key")
            continue
        operator, values = e.get("operator"), e.get("values") or []
        if operator not in OPERATORS:
            errors.append(f"{where}.matchExpressions operator {operator!r} is not one of "
                          f"{list(OPERATORS)}")
        elif operator in ("In", "NotIn") and not values:
            errors.append(f"{where}.matchExpressions {e['key']} {operator} needs values")
        elif operator in ("Exists", "DoesNotExist") and values:
            errors.append(f"{where}.matchExpressions {e['key']} {operator} takes no values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"{where}.matchExpressions values must be strings")
    return errors
