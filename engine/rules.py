"""The Python rule API: `@rule(...)` turns a function into a policy.

    from pathwarden.engine.rules import rule

    @rule(id="no-host-network", title="No host network", severity="high",
          kinds=["Pod"], remediation="Remove spec.hostNetwork.")
    def no_host_network(doc):
        if doc["review"]["object"]["spec"].get("hostNetwork"):
            yield {"msg": "hostNetwork is true", "path": "spec.hostNetwork"}

The function receives the same document a Rego policy gets as `input` (with
`parameters`), and may take a second argument, `data`, for referential rules
(`data["inventory"]`, Gatekeeper's layout). It yields or returns violations: strings or
mappings with `msg` and optional `path` and `details`. `warn(...)` marks a violation as
a warning, like a Rego `warn` rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .model import Location, Violation

RULE_ATTRIBUTE = "__pathwarden_rule__"


@dataclass(frozen=True, slots=True)
class Warning_:
    """A violation the rule reports as a warning (the Python twin of a Rego `warn`)."""

    violation: Violation


def warn(msg: str, path: str | None = None, details: Any = None) -> Warning_:
    return Warning_(Violation(msg, path, details))


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What the decorator records; the loader turns it into a Policy."""

    metadata: dict[str, Any]
    function: Callable[..., Any]
    wants_data: bool
    location: Location


def rule(**metadata: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        params = inspect.signature(function).parameters
        code = function.__code__
        spec = RuleSpec(
            metadata=metadata,
            function=function,
            wants_data=len(params) >= 2,
            location=Location(code.co_filename, code.co_firstlineno),
        )
        setattr(function, RULE_ATTRIBUTE, spec)
        return function

    return mark


def collect(items: Iterable[Any], prefix: str = "") -> tuple[list[Violation], list[Violation]]:
    """Normalise the violations a rule gave into (violations, warnings).

    `prefix` is the JSON path of the pod template the rule judged, put before each path.
    The common shape, a dict with a string `msg`, is read inline: a failing audit
    normalises tens of thousands of them (see bench/eval.py).
    """
    denies: list[Violation] = []
    warnings: list[Violation] = []
    for item in items:
        kind = type(item)
        if kind is dict:
            msg = item.get("msg")
            if type(msg) is str:
                path = item.get("path")
                if path is not None:
                    path = prefix + path if type(path) is str else prefix + str(path)
                denies.append(_violation(Violation, (msg, path, item.get("details"))))
                continue
        elif kind is Warning_:
            warnings.append(_prefixed(item.violation, prefix) if prefix else item.violation)
            continue
        denies.append(to_violation(item, prefix))
    return denies, warnings


_violation = tuple.__new__
"""Builds a Violation from a ready tuple without the named tuple's Python-level __new__."""


def to_violation(value: Any, prefix: str = "") -> Violation:
    """Rules in both languages may answer a string or an object with msg/path/details."""
    kind = type(value)
    if kind is str:
        return Violation(value)
    if kind is dict:
        msg = value.get("msg")
        if type(msg) is str:
            path = value.get("path")
            return Violation(msg, None if path is None else prefix + str(path),
                             value.get("details"))
    elif isinstance(value, str):
        return Violation(str(value))
    elif isinstance(value, Violation):
        return _prefixed(value, prefix) if prefix else value
    elif isinstance(value, dict) and isinstance(value.get("msg"), str):
        return to_violation(dict(value), prefix)
    raise TypeError(f"a violation must be a string or an object with 'msg', got {value!r:.80}")


def _prefixed(violation: Violation, prefix: str) -> Violation:
    if violation.path is None:
        return violation
    return Violation(violation.msg, prefix + violation.path, violation.details)
