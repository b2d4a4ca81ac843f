"""Kubernetes label selectors in their string form, as Backstage's
`backstage.io/kubernetes-label-selector` annotation carries them (`app=web,tier in (prod)`).

Parsed once when the catalog is read, so a typo is a catalog problem with a file and line
rather than a silent non-match during every scan. Semantics follow Kubernetes: `!=` and
`notin` also match objects that lack the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^()]*)\)$")
_CMP_RE = re.compile(rf"^({_KEY})\s*(==|!=|=)\s*({_VALUE})$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_KEY})$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


class SelectorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    """One of `in`, `notin`, `exists`, `!exists` (`=`/`==` are `in`, `!=` is `notin`)."""
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator == "in":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True, slots=True)
class Selector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return self.text


def parse_selector(text: str) -> Selector:
    """Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`. An empty selector is refused: in
    Kubernetes it selects everything, which in a catalog would claim every object."""
    parts = _split(text)
    if not parts:
        raise SelectorError("empty label selector")
    return Selector(text.strip(), tuple(_requirement(p) for p in parts))


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses (`tier in (a,b)` is one requirement)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    if depth != 0:
        raise SelectorError(f"unbalanced parentheses in label selector {text!r}")
    if parts == [""]:
        return []
    if "" in parts:
        raise SelectorError(f"empty requirement in label selector {text!r}")
    return parts


def _requirement(part: str) -> Requirement:
    if match := _SET_RE.match(part):
        key, op, raw = match.groups()
        values = [v.strip() for v in raw.split(",")]
        if not values or any(not v or not _VALUE_RE.match(v) for v in values):
            raise SelectorError(f"bad value list in requirement {part!r}")
        return Requirement(key, op, frozenset(values))
    if match := _CMP_RE.match(part):
        key, op, value = match.groups()
        return Requirement(key, "notin" if op == "!=" else "in", frozenset([value]))
    if match := _EXISTS_RE.match(part):
        negated, key = match.groups()
        return Requirement(key, "!exists" if negated else "exists")
    raise SelectorError(f"cannot parse requirement {part!r}")
