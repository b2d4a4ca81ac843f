"""Scorecard definitions: YAML ladders of levels, each level a list of rules.

A rule names a policy id, a tag (every policy carrying it), or a condition over a stored
fact (`delivery.change_failure_rate <= 0.15`). Definitions are validated when loaded and
every mistake names its file and the reason; one bad file does not stop the others.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..engine.catalog.service_filter import FilterError, ServiceFilter, parse_service_filter
from ..engine.errors import Problem
from ..engine.model import Location

BUILTIN_DIR = Path(__file__).with_name("builtin")
ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    level: str
    weight: float = 1.0
    policy: str | None = None
    tag: str | None = None
    fact: str | None = None
    op: str | None = None
    value: Any = None
    remediation: str = ""

    def kind(self) -> str:
        return "policy" if self.policy else "tag" if self.tag else "fact"


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Scorecard:
    id: str
    title: str
    description: str
    golden_path: str
    levels: tuple[Level, ...]
    filter: ServiceFilter = field(default_factory=ServiceFilter)
    location: Location | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for level in self.levels for r in level.rules)

    def applies_to(self, service: Mapping[str, Any]) -> bool:
        """`service` holds the filter keys (type, lifecycle, tier, owner, system)."""
        return self.filter.matches(service)


@dataclass(slots=True)
class ScorecardSet:
    scorecards: list[Scorecard] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def get(self, scorecard_id: str) -> Scorecard | None:
        return next((s for s in self.scorecards if s.id == scorecard_id), None)


class DefinitionError(ValueError):
    pass


def load_scorecards(dirs: Iterable[Path], *, builtin: bool = True) -> ScorecardSet:
    found = ScorecardSet()
    paths = ([BUILTIN_DIR] if builtin else []) + list(dirs)
    for root in paths:
        files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]) if root.is_dir() \
            else [root]
        if not root.exists():
            found.problems.append(Problem("scorecards", "no such file or directory",
                                          Location(str(root))))
            continue
        for file in files:
            _load_file(file, found)
    return found


def configured_scorecards(settings: Any) -> ScorecardSet:
    """The scorecards a configuration names: built-in ones (unless turned off) and its dirs."""
    return load_scorecards(settings.scorecards.dirs, builtin=settings.scorecards.builtin)


def _load_file(file: Path, found: ScorecardSet) -> None:
    try:
        docs = [d for d in yaml.safe_load_all(file.read_text(encoding="utf-8")) if d]
    except (OSError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        found.problems.append(Problem("scorecards", f"invalid YAML: {exc}".split("\n")[0],
                                      Location(str(file), line + 1 if line is not None
                                               else None)))
        return
    for doc in docs:
        try:
            card = parse_scorecard(doc, Location(str(file)))
        except DefinitionError as exc:
            found.problems.append(Problem("scorecards", str(exc), Location(str(file))))
            continue
        if found.get(card.id):
            found.problems.append(Problem("scorecards", f"duplicate scorecard id {card.id!r}",
                                          Location(str(file))))
            continue
        found.scorecards.append(card)


def parse_scorecard(doc: Any, location: Location | None = None) -> Scorecard:
    if not isinstance(doc, dict):
        raise DefinitionError("a scorecard must be a mapping")
    unknown = sorted(set(doc) - {"id", "title", "description", "golden_path", "levels",
                                 "filter"})
    if unknown:
        raise DefinitionError(f"unknown key(s) {unknown}")
    card_id = doc.get("id")
    if not isinstance(card_id, str) or not ID.match(card_id):
        raise DefinitionError(f"id {card_id!r} must match {ID.pattern}")
    levels_raw = doc.get("levels")
    if not isinstance(levels_raw, list) or not levels_raw:
        raise DefinitionError(f"scorecard {card_id}: levels must be a non-empty list")
    levels, rule_ids, names = [], set(), set()
    for i, raw in enumerate(levels_raw):
        level = _level(card_id, i, raw)
        if level.name in names:
            raise DefinitionError(f"scorecard {card_id}: duplicate level {level.name!r}")
        names.add(level.name)
        for rule in level.rules:
            if rule.id in rule_ids:
                raise DefinitionError(f"scorecard {card_id}: duplicate rule id {rule.id!r}")
            rule_ids.add(rule.id)
        levels.append(level)
    return Scorecard(
        id=card_id, title=str(doc.get("title") or card_id),
        description=str(doc.get("description") or ""),
        golden_path=str(doc.get("golden_path") or card_id), levels=tuple(levels),
        filter=_filter(card_id, doc.get("filter") or {}), location=location)


def _level(card_id: str, index: int, raw: Any) -> Level:
    where = f"scorecard {card_id}: levels[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise DefinitionError(f"{where} needs a name")
    rules = raw.get("rules")
    if not isinstance(rules, list) or not rules:
        raise DefinitionError(f"{where} ({raw['name']}) needs a non-empty list of rules")
    return Level(raw["name"], tuple(_rule(f"{where}.rules[{j}]", raw["name"], r)
                                    for j, r in enumerate(rules)))


def _rule(where: str, level: str, raw: Any) -> Rule:
    if isinstance(raw, str):
        raw = {"tag": raw} if ":" in raw else {"policy": raw}
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where} must be a policy id, a tag or a mapping")
    unknown = sorted(set(raw) - {"id", "title", "policy", "tag", "fact", "op", "value",
                                 "weight", "remediation"})
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {unknown}")
    kinds = [k for k in ("policy", "tag", "fact") if raw.get(k)]
    if len(kinds) != 1:
        raise DefinitionError(f"{where}: give exactly one of policy, tag or fact")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise DefinitionError(f"{where}: weight must be a positive number")
    if kinds == ["fact"]:
        if raw.get("op") not in OPERATORS:
            raise DefinitionError(f"{where}: op must be one of {list(OPERATORS)}")
        if "value" not in raw:
            raise DefinitionError(f"{where}: a fact rule needs a value")
    target = str(raw[kinds[0]])
    rule_id = str(raw.get("id") or target.replace(":", "-").replace(".", "-"))
    return Rule(id=rule_id, title=str(raw.get("title") or target), level=level,
                weight=float(weight), policy=raw.get("policy"), tag=raw.get("tag"),
                fact=raw.get("fact"), op=raw.get("op"), value=raw.get("value"),
                remediation=str(raw.get("remediation") or ""))


def _filter(card_id: str, raw: Any) -> ServiceFilter:
    try:
        return parse_service_filter(raw)
    except FilterError as exc:
        raise DefinitionError(f"scorecard {card_id}: {exc}") from exc
