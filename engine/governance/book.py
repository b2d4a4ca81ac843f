"""The governance in force: which waiver excuses a finding, which enforcement applies now.

One object answers both questions for the webhook, the scanner and the scorecards, so
admission and audit never disagree. Precedence, strongest first:

1. a valid waiver (approved, not expired, covering the policy and the target): the
   finding is `waived` and never blocks, whatever the campaign phase;
2. campaigns in force for the policy and the target's service: their phase's
   enforcement (the strictest when several apply);
3. the configured override (`webhook.enforcement`, ids before tags);
4. the policy's own default.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model import Enforcement, Finding, Policy, Status, TargetRef
from ..policyset import matches
from .annotations import annotation_waiver
from .campaigns import Campaign, Phase
from .config import GovernanceSettings
from .waivers import Waiver

STRICTNESS = {Enforcement.AUDIT: 0, Enforcement.WARN: 1, Enforcement.DENY: 2}
WAIVABLE = (Status.FAIL, Status.WARN)
"""An error is not a deviation anyone accepted: it stays an error."""


@dataclass(frozen=True, slots=True)
class Effective:
    """The enforcement in force for one policy on one target, and why."""

    enforcement: Enforcement
    campaign: Campaign | None = None
    phase: Phase | None = None
    next_phase: Phase | None = None

    def note(self) -> str | None:
        """For warnings: when the campaign's rule starts denying."""
        if self.campaign is None or self.enforcement is Enforcement.DENY:
            return None
        deny = self.campaign.denies_from()
        if deny is None:
            return f"campaign {self.campaign.id}"
        return f"campaign {self.campaign.id}: denies from {deny.starts}"


def configured_enforcement(policy: Policy, overrides: Mapping[str, str]) -> Enforcement:
    """An id (exact, then glob) wins; among matching tags the strictest wins.

    PSS baseline policies also carry the `pss:restricted` tag, so `{pss:restricted: warn,
    pss:baseline: deny}` keeps baseline denying while restricted-only rules warn.
    """
    if policy.id in overrides:
        return Enforcement(overrides[policy.id])
    by_id = [v for k, v in overrides.items() if fnmatch.fnmatchcase(policy.id, k)]
    if by_id:
        return max((Enforcement(v) for v in by_id), key=STRICTNESS.__getitem__)
    by_tag = [v for k, v in overrides.items()
              if any(fnmatch.fnmatchcase(tag, k) for tag in policy.tags)]
    if by_tag:
        return max((Enforcement(v) for v in by_tag), key=STRICTNESS.__getitem__)
    return policy.enforcement


class Governance:
    """Waivers and campaigns as loaded; answers are computed against the clock given."""

    def __init__(self, settings: GovernanceSettings | None = None, *,
                 waivers: Iterable[Waiver] = (), campaigns: Iterable[Campaign] = (),
                 overrides: Mapping[str, str] | None = None) -> None:
        self.settings = settings or GovernanceSettings()
        self.waivers: tuple[Waiver, ...] = tuple(waivers)
        self.campaigns: tuple[Campaign, ...] = tuple(campaigns)
        self.overrides: Mapping[str, str] = overrides or {}
        self._campaigns_of: dict[str, tuple[Campaign, ...]] = {}
        self._waivers_of: dict[str, tuple[Waiver, ...]] = {}

    def waiver(self, waiver_id: str) -> Waiver | None:
        return next((w for w in self.waivers if w.id == waiver_id), None)

    def campaign(self, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    # --- enforcement -----------------------------------------------------------------

    def enforcement(self, policy: Policy, service: Mapping[str, Any] | None,
                    now: datetime) -> Effective:
        best: Effective | None = None
        for campaign in self._campaigns_for(policy):
            if not campaign.covers_service(service):
                continue
            phase = campaign.phase_at(now)
            if phase is None:
                continue
            if best is None or STRICTNESS[phase.enforcement] > STRICTNESS[best.enforcement]:
                best = Effective(phase.enforcement, campaign, phase, campaign.next_phase(now))
        return best or Effective(configured_enforcement(policy, self.overrides))

    def _campaigns_for(self, policy: Policy) -> tuple[Campaign, ...]:
        found = self._campaigns_of.get(policy.id)
        if found is None:
            found = self._campaigns_of[policy.id] = tuple(
                c for c in self.campaigns if c.covers_policy(policy))
        return found

    # --- waivers ---------------------------------------------------------------------

    def waiver_for(self, policy: Policy, ref: TargetRef, now: datetime, *,
                   service_name: str | None = None,
                   annotations: Mapping[str, Any] | None = None,
                   memo: dict[Any, tuple[Waiver, ...]] | None = None) -> Waiver | None:
        """The valid waiver that covers this policy on this target (the one that runs
        longest when several do), or None.

        `memo`: for many targets at one instant (an audit), the waivers active then whose
        service and namespace covers fit are kept per policy, kind, service and namespace;
        only object, repository and pipeline names are then matched per target."""
        if memo is None:
            candidates: tuple[Waiver, ...] = tuple(
                w for w in self._waivers_for(policy)
                if w.active(now) and w.covers_scope(ref, service_name))
        else:
            key = (policy.id, ref.kind, ref.service, ref.namespace)
            found = memo.get(key)
            if found is None:
                found = memo[key] = tuple(
                    w for w in self._waivers_for(policy)
                    if w.active(now) and w.covers_scope(ref, service_name))
            candidates = found
        best: Waiver | None = None
        for waiver in candidates:
            if waiver.covers_name(ref) and (
                    best is None or waiver.expires_at > best.expires_at):
                best = waiver
        if best is None and annotations and self.annotation_allowed(policy):
            own = annotation_waiver(annotations, ref, self.settings, now)
            if own is not None and own.active(now) and own.covers_policy(policy):
                best = own
        return best

    def annotation_allowed(self, policy: Policy) -> bool:
        """Workloads waive nothing for themselves unless configuration allows it."""
        allowed = self.settings.waivers.annotation_policies
        return bool(allowed) and matches(policy, allowed)

    def _waivers_for(self, policy: Policy) -> tuple[Waiver, ...]:
        found = self._waivers_of.get(policy.id)
        if found is None:
            found = self._waivers_of[policy.id] = tuple(
                w for w in self.waivers if w.covers_policy(policy))
        return found

    # --- findings --------------------------------------------------------------------

    def govern(self, findings: Sequence[Finding], policy: Callable[[str], Policy | None],
               now: datetime, *, services: Mapping[str, Mapping[str, Any]],
               annotations: Mapping[str, Mapping[str, Any]] | None = None) -> list[Finding]:
        """The findings, updated in place: the enforcement in force and, where a waiver
        covers a failure, status `waived` and the waiver's id. `services` by ref;
        `annotations` by target id.

        An audit governs hundreds of thousands of findings, so what depends only on the
        policy and the service (the enforcement, whether any waiver names the policy) is
        worked out once per pair, and a finding is changed rather than copied."""
        effective_of: dict[tuple[str, str | None], Effective] = {}
        policies: dict[str, Policy | None] = {}
        memo: dict[Any, tuple[Waiver, ...]] = {}
        out = []
        for finding in findings:
            pid, ref = finding.policy_id, finding.target
            p = policies[pid] if pid in policies else policies.setdefault(pid, policy(pid))
            if p is None:
                out.append(finding)
                continue
            key = (pid, ref.service)
            effective = effective_of.get(key)
            if effective is None:
                effective = effective_of[key] = self.enforcement(
                    p, services.get(ref.service or ""), now)
            finding.enforcement = effective.enforcement
            if finding.status in WAIVABLE and (
                    self._waivers_for(p) or (annotations and self.annotation_allowed(p))):
                service = services.get(ref.service or "")
                waiver = self.waiver_for(
                    p, ref, now, annotations=(annotations or {}).get(ref.id),
                    service_name=service.get("name") if service else None, memo=memo)
                if waiver is not None:
                    finding.status, finding.waiver = Status.WAIVED, waiver.id
            out.append(finding)
        return out
