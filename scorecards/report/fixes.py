"""How to fix a scorecard rule: the text and link a lead forwards to the team that fails it.

The remediation lives where the rule's meaning lives: a policy rule's in the policy's
metadata, a tag rule's in each policy of the tag that actually fails (a tag can hold a
dozen policies and naming them all would bury the two that matter), a fact rule's in the
scorecard definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ...engine.model import Policy
from ..definitions import Rule, Scorecard
from ..views import policy_failures

Counts = Mapping[tuple[str | None, str], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class PolicyFix:
    id: str
    title: str
    remediation: str
    url: str | None
    services: int
    """How many of the services in question fail it."""


@dataclass(frozen=True, slots=True)
class Fix:
    remediation: str
    url: str | None = None
    policies: tuple[PolicyFix, ...] = ()
    """For tag rules: the failing policies of the tag, most failing first."""


class Fixes:
    """Remediation lookups over the loaded policies and scorecards.

    `counts` (the current findings per service and policy) is read only when a tag rule
    needs it, so a report without failing tag rules never runs that query.
    """

    def __init__(self, cards: Sequence[Scorecard], policies: Mapping[str, Policy],
                 counts: Callable[[], Counts]) -> None:
        self._rules: dict[tuple[str, str], Rule] = {
            (card.id, rule.id): rule for card in cards for rule in card.rules}
        self._policies = policies
        self._load_counts = counts
        self._counts: Counts | None = None

    def rule(self, scorecard: str, rule_id: str) -> Rule | None:
        return self._rules.get((scorecard, rule_id))

    def __call__(self, scorecard: str, rule_id: str, kind: str, target: str,
                 services: Sequence[str]) -> Fix:
        rule = self.rule(scorecard, rule_id)
        own = rule.remediation if rule else ""
        if kind == "policy":
            policy = self._policies.get(target)
            if policy is None:
                return Fix(own)
            return Fix(policy.remediation or own, _safe_url(policy.url))
        if kind == "tag":
            return Fix(own, None, self._tag_policies(target, services))
        return Fix(own)

    def _tag_policies(self, tag: str, services: Sequence[str]) -> tuple[PolicyFix, ...]:
        if self._counts is None:
            self._counts = self._load_counts()
        ids = [p.id for p in self._policies.values() if tag in p.tags]
        out = []
        for policy_id, n in policy_failures(self._counts, ids, services):
            policy = self._policies[policy_id]
            out.append(PolicyFix(policy.id, policy.title, policy.remediation,
                                 _safe_url(policy.url), n))
        return tuple(out)


def _safe_url(url: str | None) -> str | None:
    """Only web links become links: the report is opened by people who trust it."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None
