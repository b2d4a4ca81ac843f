"""From an admission request to a Decision: the same `evaluate` as audit, then enforcement.

A failing policy denies, warns or is only recorded according to its effective enforcement.
A policy that cannot be evaluated at deny level leaves the webhook unable to decide, and
the configured failure mode answers: closed denies with the reason, open allows with a
warning. Either way the developer reads which policy and why.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..engine.errors import truncate
from ..engine.evaluate import evaluate_target
from ..engine.governance import Effective, Waiver
from ..engine.governance.book import WAIVABLE
from ..engine.model import Enforcement, Finding, Policy, Status, Target
from ..engine.settings import WebhookSettings
from .governance import AdmissionGovernance
from .policies import LoadedPolicies
from .review import AdmissionRequest

MAX_MESSAGES_PER_POLICY = 5
MAX_WARNING = 256
"""Kubernetes may truncate longer warnings; kubectl prints each on its own line."""
MAX_DENY_MESSAGE = 4000


@dataclass(slots=True)
class Decision:
    uid: str
    allowed: bool
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    """policy id -> pass | deny | warn | audit | error | skip, for metrics."""
    waived: list[str] = field(default_factory=list)
    """Failing policies a valid waiver excused (admitted, with a warning)."""
    service: str | None = None
    exempt: str | None = None
    error: str | None = None
    """Why no decision could be made (the failure mode answered)."""
    evaluation_seconds: float = 0.0


def decide(request: AdmissionRequest, loaded: LoadedPolicies, settings: WebhookSettings,
           governance: AdmissionGovernance | None = None,
           now: datetime | None = None) -> Decision:
    """`governance`: waivers, campaigns and the catalog (None: the policies' and the
    configuration's enforcement only); `now`: the instant their dates are compared with."""
    started = time.perf_counter()
    applicable = frozenset(p.id for p in loaded.policy_set.policies
                           if loaded.scope.applies(p, request))
    target = request.target()
    findings = evaluate_target(target, loaded.policy_set.only(applicable))
    judge = _Judge(request, target, loaded, governance, now or datetime.now(UTC))
    decision = judge.decide(findings, settings)
    decision.evaluation_seconds = time.perf_counter() - started
    return decision


class _Judge:
    """Per request: the service (for service-scoped waivers and campaign filters), then
    per failing policy the enforcement in force and whether a waiver excuses it."""

    def __init__(self, request: AdmissionRequest, target: Target, loaded: LoadedPolicies,
                 governance: AdmissionGovernance | None, now: datetime) -> None:
        self.request, self.target, self.loaded, self.now = request, target, loaded, now
        self.governance = governance
        self.service = governance.service_of(target) if governance is not None else None
        if self.service is not None:
            target.ref = dataclasses.replace(target.ref, service=self.service["ref"])

    def effective(self, policy: Policy) -> Effective:
        configured = Effective(self.loaded.scope.enforcement[policy.id])
        if self.governance is None:
            return configured
        effective = self.governance.governance.enforcement(policy, self.service, self.now)
        # Without a campaign in force, the configured enforcement is the override of the
        # settings this request is served with (`loaded`), not the governance view's copy,
        # which a configuration reload swaps a moment later.
        return effective if effective.campaign is not None else configured

    def waiver(self, policy: Policy) -> Waiver | None:
        if self.governance is None:
            return None
        meta = self.request.obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        return self.governance.governance.waiver_for(
            policy, self.target.ref, self.now,
            service_name=self.service["name"] if self.service else None,
            annotations=annotations if isinstance(annotations, dict) else None)

    def decide(self, findings: list[Finding], settings: WebhookSettings) -> Decision:
        decision = _judge(self, findings, settings)
        decision.service = self.service["ref"] if self.service else None
        return decision


_JUDGED = (Status.ERROR, *WAIVABLE)
"""What admission acts on: errors (failure mode) and the waivable fail and warn."""


def _judge(judge: _Judge, findings: list[Finding], settings: WebhookSettings) -> Decision:
    request, loaded = judge.request, judge.loaded
    decision = Decision(uid=request.uid, allowed=True)
    deny_lines: list[str] = []
    errors: list[str] = []
    for finding in _merged(findings):
        if finding.status not in _JUDGED:  # a pass or a skip: nothing to enforce or excuse
            decision.results.setdefault(finding.policy_id, finding.status.value)
            continue
        policy = loaded.policy_set.get(finding.policy_id)
        assert policy is not None
        effective = judge.effective(policy)
        enforcement = effective.enforcement
        if finding.status is Status.ERROR:
            decision.errored.append(policy.id)
            decision.results[policy.id] = "error"
            text = f"[{policy.id}] could not be evaluated: {finding.error}"
            if enforcement is Enforcement.DENY:
                errors.append(text)
            elif enforcement is Enforcement.WARN:
                decision.warnings.append(truncate(text, MAX_WARNING))
            continue
        waiver = judge.waiver(policy)
        if waiver is not None:
            decision.waived.append(policy.id)
            decision.results[policy.id] = "waived"
            decision.warnings.append(truncate(
                f"[{policy.id}] waived by {waiver.id} until {waiver.expires} "
                f"({len(finding.violations) + len(finding.warnings)} finding(s) excused): "
                f"{waiver.reason}", MAX_WARNING))
            continue
        if finding.status is Status.FAIL:
            result = enforcement.value
        else:  # the rule's own warn set: never blocks
            result = "audit" if enforcement is Enforcement.AUDIT else "warn"
        decision.results[policy.id] = result
        messages = [v.msg for v in (*finding.violations, *finding.warnings)]
        if result == "deny":
            decision.denied.append(policy.id)
            deny_lines.append(_deny_block(policy.id, messages, policy.remediation))
        elif result == "warn":
            decision.warned.append(policy.id)
            decision.warnings.extend(_warnings(policy.id, messages, policy.remediation,
                                               effective.note()))
        else:
            decision.audited.append(policy.id)
    if deny_lines:
        decision.allowed = False
        decision.message = truncate(_deny_header(request, len(deny_lines)) + "\n"
                                    + "\n".join(deny_lines), MAX_DENY_MESSAGE)
    elif errors:
        reason = "; ".join(errors)
        apply_failure_mode(decision, request, settings, truncate(reason, 1000))
    return decision


def apply_failure_mode(decision: Decision, request: AdmissionRequest,
                       settings: WebhookSettings, reason: str) -> Decision:
    """No decision could be made: answer as configured, and say so to the developer."""
    decision.error = reason
    if settings.failure_mode == "open":
        decision.allowed = True
        decision.warnings.append(truncate(
            f"pathwarden could not decide ({reason}); allowed because the webhook "
            "fails open", MAX_WARNING))
    else:
        decision.allowed = False
        decision.message = truncate(
            f"pathwarden could not decide on {_describe(request)}: {reason}. The webhook "
            "fails closed, so the request is denied; retry, or ask the platform team.",
            MAX_DENY_MESSAGE)
    return decision


def failure_decision(request: AdmissionRequest, settings: WebhookSettings,
                     reason: str) -> Decision:
    return apply_failure_mode(Decision(uid=request.uid, allowed=True), request, settings,
                              reason)


def _merged(findings: list[Finding]) -> list[Finding]:
    """A workload is judged on itself and on its pod template; one entry per policy."""
    by_policy: dict[str, Finding] = {}
    for finding in findings:
        seen = by_policy.get(finding.policy_id)
        if seen is None or _rank(finding) > _rank(seen):
            by_policy[finding.policy_id] = finding
        elif finding.status is seen.status:
            seen.violations += finding.violations
            seen.warnings += finding.warnings
    return list(by_policy.values())


_RANKS = {Status.ERROR: 4, Status.FAIL: 3, Status.WARN: 2, Status.PASS: 1}


def _rank(finding: Finding) -> int:
    return _RANKS.get(finding.status, 0)


def _deny_header(request: AdmissionRequest, count: int) -> str:
    noun = "policy" if count == 1 else "policies"
    return f"{_describe(request)} violates {count} {noun}:"


def _describe(request: AdmissionRequest) -> str:
    where = f"{request.namespace}/{request.name}" if request.namespace else request.name
    return f"{request.kind} {where}".strip()


def _deny_block(policy_id: str, messages: list[str], remediation: str) -> str:
    lines = [f"[{policy_id}] {m}" for m in messages[:MAX_MESSAGES_PER_POLICY]]
    if len(messages) > MAX_MESSAGES_PER_POLICY:
        lines.append(f"[{policy_id}] ... and {len(messages) - MAX_MESSAGES_PER_POLICY} more")
    if remediation:
        lines.append(f"  fix: {remediation}")
    return "\n".join(lines)


def _warnings(policy_id: str, messages: list[str], remediation: str,
              note: str | None = None) -> list[str]:
    """`note`: the campaign that sets this rule to warn, and when it starts denying; it
    comes before the fix so truncation never drops it."""
    out = []
    for message in messages[:MAX_MESSAGES_PER_POLICY]:
        text = f"[{policy_id}] {message}"
        if note:
            text = f"[{policy_id}] ({note}) {message}"
        if remediation and len(text) + len(remediation) + 8 <= MAX_WARNING:
            text += f" (fix: {remediation})"
        out.append(truncate(text, MAX_WARNING))
    return out
