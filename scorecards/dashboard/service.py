"""A service's page: every rule of every scorecard with what exactly is wrong (the findings'
messages on its targets), how to fix it, since when, and what admission said lately."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ...engine.model import Policy
from ...engine.store import DecisionLogEntry, FindingRow, ScorecardResult, ServiceRow, TargetRow
from ..context import AppContext
from ..definitions import Rule
from ..governance_views import WaiverLine, waiver_lines
from ..views import blocking_rules
from .charts import Series, line_chart, series_colour
from .common import Snapshot
from .data import current_waivers

MAX_MESSAGES = 6
DECISIONS = 20
KIND_ORDER = {"k8s": 0, "repo": 1, "pipeline": 2}
KIND_TITLES = {"k8s": "Workloads and Kubernetes objects", "repo": "Repositories",
               "pipeline": "Pipelines"}


@dataclass(frozen=True, slots=True)
class Message:
    policy: str
    target: str
    text: str
    kind: str
    """deny | warn | error | waived: what the finding was."""
    waiver: str | None = None
    """The waiver excusing it (kind `waived`)."""


@dataclass(frozen=True, slots=True)
class Fix:
    policy: str | None
    text: str
    url: str | None


@dataclass(frozen=True, slots=True)
class RuleLine:
    rule: dict[str, Any]
    policies: list[str]
    """The policies to open: the rule's policy, or the tag's policies that do not pass."""
    messages: list[Message]
    more: int
    fixes: list[Fix]
    detail: str | None
    """For fact rules: the measured value against the threshold."""


@dataclass(frozen=True, slots=True)
class CardResult:
    result: ScorecardResult
    title: str
    levels: list[str]
    next_level: str | None
    blocking: list[str]
    """Rule ids standing between the service and its next level."""
    rules: list[RuleLine]


def target_label(target: TargetRow) -> str:
    if target.kind == "k8s":
        where = f"{target.namespace}/" if target.namespace else ""
        return f"{target.object_kind or 'object'} {where}{target.name}"
    return target.name


def rule_policies(rule: Mapping[str, Any], policies: Mapping[str, Policy]) -> list[str]:
    if rule.get("kind") == "policy":
        return [str(rule["target"])]
    if rule.get("kind") == "tag":
        return sorted(p.id for p in policies.values() if rule["target"] in p.tags)
    return []


def _messages(policy_ids: Sequence[str],
              findings: Mapping[str, list[tuple[FindingRow, TargetRow]]]) -> list[Message]:
    out = []
    for pid in policy_ids:
        for finding, target in findings.get(pid, []):
            if finding.status in ("pass", "skip"):
                continue
            label = target_label(target)
            if finding.error:
                out.append(Message(pid, label, finding.error, "error"))
            for violation in finding.violations or []:
                kind = "waived" if finding.status == "waived" else violation.get("kind", "deny")
                out.append(Message(pid, label, str(violation.get("msg", "")), kind,
                                   finding.waiver if kind == "waived" else None))
    rank = {"error": 0, "deny": 1, "waived": 2, "warn": 3}
    return sorted(out, key=lambda m: (rank.get(m.kind, 4), m.policy, m.target))


def _fact_detail(rule: Mapping[str, Any], definition: Rule | None) -> str | None:
    if rule.get("kind") != "fact":
        return None
    value = (rule.get("counts") or {}).get("value")
    wanted = f"{definition.op} {definition.value}" if definition else "the threshold"
    if value is None:
        return (f"No data for {rule['target']}: post pipeline runs to /api/v1/pipeline-runs "
                f"(needs {wanted}).")
    return f"Measured {rule['target']} = {value}; needs {wanted}."


def rule_line(rule: dict[str, Any], definition: Rule | None, policies: Mapping[str, Policy],
              findings: Mapping[str, list[tuple[FindingRow, TargetRow]]]) -> RuleLine:
    behind = rule_policies(rule, policies)
    messages = _messages(behind, findings)
    troubled = sorted({m.policy for m in messages})
    shown = behind if rule.get("kind") == "policy" else troubled
    fixes = []
    if rule.get("status") not in ("pass", "n/a"):
        if definition and definition.remediation:
            fixes.append(Fix(None, definition.remediation, None))
        for pid in shown:
            policy = policies.get(pid)
            if policy and (policy.remediation or policy.url):
                fixes.append(Fix(pid, policy.remediation, policy.url))
    return RuleLine(rule, shown, messages[:MAX_MESSAGES], max(len(messages) - MAX_MESSAGES, 0),
                    fixes, _fact_detail(rule, definition))


def card_results(ctx: AppContext, results: Sequence[ScorecardResult],
                 findings: Sequence[tuple[FindingRow, TargetRow]]) -> list[CardResult]:
    by_policy: dict[str, list[tuple[FindingRow, TargetRow]]] = {}
    for finding, target in findings:
        by_policy.setdefault(finding.policy_id, []).append((finding, target))
    order = {c.id: i for i, c in enumerate(ctx.cards)}
    out = []
    for result in sorted(results, key=lambda r: order.get(r.scorecard, 99)):
        card = ctx.scorecards.get(result.scorecard)
        definitions = {r.id: r for r in card.rules} if card else {}
        next_level, blocking = blocking_rules(result, card) if card else (None, [])
        levels = [lvl.name for lvl in card.levels] if card else []
        out.append(CardResult(
            result, card.title if card else result.scorecard, levels, next_level,
            [r["id"] for r in blocking],
            [rule_line(rule, definitions.get(rule["id"]), ctx.policies, by_policy)
             for rule in result.rules]))
    return out


def grouped_targets(findings: Sequence[tuple[FindingRow, TargetRow]]
                    ) -> list[tuple[str, str, list[tuple[TargetRow, list[str], list[str]]]]]:
    """(kind, title, [(target, failing policies, waived policies)]) for the targets the
    service owns: waived ones apart, as excused rather than fixed."""
    targets: dict[str, tuple[TargetRow, set[str], set[str]]] = {}
    for finding, target in findings:
        _, failing, waived = targets.setdefault(target.target_id, (target, set(), set()))
        if finding.status in ("fail", "error"):
            failing.add(finding.policy_id)
        elif finding.status == "waived":
            waived.add(finding.policy_id)
    kinds: dict[str, list[tuple[TargetRow, list[str], list[str]]]] = {}
    for target, failing, waived in targets.values():
        kinds.setdefault(target.kind, []).append((target, sorted(failing), sorted(waived)))
    return [(kind, KIND_TITLES.get(kind, kind),
             sorted(items, key=lambda item: target_label(item[0])))
            for kind, items in sorted(kinds.items(), key=lambda kv: KIND_ORDER.get(kv[0], 9))]


def recent_decisions(ctx: AppContext, namespaces: Sequence[str]) -> list[DecisionLogEntry]:
    """The webhook rarely knows the service, so decisions are matched by the namespaces of
    the service's Kubernetes objects (neighbours sharing a namespace show up too)."""
    entries: list[DecisionLogEntry] = []
    for namespace in namespaces:
        entries.extend(ctx.store.decisions(namespace=namespace, limit=DECISIONS))
    entries.sort(key=lambda d: (d.time, d.id or 0), reverse=True)
    return entries[:DECISIONS]


def history_chart(ctx: AppContext, snap: Snapshot, service: ServiceRow, days: int) -> Any:
    if snap.day is None:
        return None
    start = snap.day - timedelta(days=days - 1)
    rows = ctx.store.scorecard_results(service=service.ref, since=start)
    series = []
    for i, card in enumerate(ctx.cards):
        points = [(r.day, r.score) for r in rows if r.scorecard == card.id]
        if any(v is not None for _, v in points):
            series.append(Series(card.title, points, series_colour(i)))
    if not series:
        return None
    return line_chart(series, start=start, end=snap.day, width=760, height=220,
                      label=f"{service.name}: score per scorecard over the last {days} days"
                      ), series


def service_waivers(ctx: AppContext, service: ServiceRow,
                    findings: Sequence[tuple[FindingRow, TargetRow]],
                    now: datetime) -> list[WaiverLine]:
    """The waivers excusing findings of this service now, and those naming it that excuse
    nothing (so a stale waiver shows where the service's owners look)."""
    rows: Counter[tuple[str | None, str, str]] = Counter()
    for finding, _ in findings:
        if finding.waiver:
            rows[finding.service, finding.policy_id, finding.waiver] += 1
    used = {w for _, _, w in rows}
    lines = waiver_lines(
        current_waivers(ctx.store, ctx.governance),
        [(s, p, w, n) for (s, p, w), n in rows.items()], {service.ref: service}, now,
        zone=ctx.governance.settings.zone,
        expiring_within=ctx.governance.settings.waivers.expiring_within_days)
    return [w for w in lines if w.waiver.id in used or (service.ref in w.services
                                                        and w.status != "revoked")]


def service_page(ctx: AppContext, snap: Snapshot, service: ServiceRow,
                 days: int, now: datetime | None = None) -> dict[str, Any]:
    findings = ctx.store.current_findings(service=service.ref)
    # full results: this page shows every rule, passing ones and measured values too
    results = (ctx.store.scorecard_results(day=snap.day, service=service.ref)
               if snap.day else [])
    targets = grouped_targets(findings)
    namespaces = sorted({t.namespace for _, t in findings if t.kind == "k8s" and t.namespace})
    return {"service": service, "cards": card_results(ctx, results, findings),
            "targets": targets, "namespaces": namespaces,
            "decisions": recent_decisions(ctx, namespaces),
            "history": history_chart(ctx, snap, service, days),
            "waivers": service_waivers(ctx, service, findings, now or datetime.now(UTC))}
