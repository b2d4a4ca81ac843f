"""Campaigns: move some rules from audit to warn to deny on dates announced in advance.

A campaign names rules (policy ids or tags, globs), an owner, a goal, a start, a deadline
and a schedule of phases (`audit` from the start, `warn` from a date, `deny` from the
deadline by default). Before the start it changes nothing; from each phase's first
instant (a day in the campaign's time zone) the phase's enforcement holds, and the last
phase holds forever after. A service filter (tier, lifecycle, team, ...) narrows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..catalog.service_filter import FilterError, ServiceFilter, parse_service_filter
from ..model import Enforcement, Policy
from ..policyset import matches
from .dates import DateError, read_day_or_instant, shown, start_of
from .documents import known_fields, named_spec


class CampaignError(ValueError):
    """A campaign that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class Phase:
    enforcement: Enforcement
    starts: str
    """As written (`2026-12-15`)."""
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    title: str
    owner: str
    goal: str
    policies: tuple[str, ...]
    start: str
    start_at: datetime
    deadline: str
    deadline_at: datetime
    phases: tuple[Phase, ...]
    timezone: str
    services: ServiceFilter = field(default_factory=ServiceFilter)
    description: str = ""
    location: str | None = None

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def covers_policy(self, policy: Policy) -> bool:
        return matches(policy, self.policies)

    def covers_service(self, service: Mapping[str, Any] | None) -> bool:
        """No filter: every target, owned or not. A filter: services that match it."""
        if not self.services:
            return True
        return service is not None and self.services.matches(service)

    def phase_at(self, now: datetime) -> Phase | None:
        """The phase in force at `now`, or None before the campaign starts."""
        current = None
        for phase in self.phases:
            if phase.starts_at <= now:
                current = phase
        return current

    def next_phase(self, now: datetime) -> Phase | None:
        return next((p for p in self.phases if p.starts_at > now), None)

    def denies_from(self) -> Phase | None:
        return next((p for p in self.phases if p.enforcement is Enforcement.DENY), None)

    def state(self, now: datetime) -> str:
        if now < self.start_at:
            return "scheduled"
        return "past-deadline" if now >= self.deadline_at else "running"


def campaign_from_document(doc: Mapping[str, Any], *, default_timezone: str,
                           location: str | None = None) -> Campaign:
    name, spec = named_spec(doc, "campaign", CampaignError)
    known_fields(spec, ("title", "description", "owner", "goal", "policies", "start",
                        "deadline", "schedule", "services", "timezone"),
                 f"campaign {name}", CampaignError)
    policies = spec.get("policies") or []
    if isinstance(policies, str):
        policies = [policies]
    if not policies or not all(isinstance(p, str) and p for p in policies):
        raise CampaignError(f"campaign {name}: spec.policies must name at least one policy "
                            "id or tag")
    for key in ("owner", "goal"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise CampaignError(f"campaign {name}: spec.{key} is required")
    timezone = str(spec.get("timezone") or default_timezone)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignError(f"campaign {name}: timezone {timezone!r} is not a time zone") from exc
    start = _day(name, spec, "start")
    deadline = _day(name, spec, "deadline")
    start_at, deadline_at = start_of(start, zone), start_of(deadline, zone)
    if deadline_at <= start_at:
        raise CampaignError(f"campaign {name}: the deadline ({shown(deadline)}) must come "
                            f"after the start ({shown(start)})")
    phases = _phases(name, spec.get("schedule"), start, deadline, zone)
    try:
        services = parse_service_filter(spec.get("services") or {})
    except FilterError as exc:
        raise CampaignError(f"campaign {name}: spec.services: {exc}") from exc
    return Campaign(
        id=name, title=str(spec.get("title") or name), owner=spec["owner"].strip(),
        goal=spec["goal"].strip(), policies=tuple(policies), start=shown(start),
        start_at=start_at, deadline=shown(deadline), deadline_at=deadline_at,
        phases=phases, timezone=timezone, services=services,
        description=str(spec.get("description") or ""), location=location)


def _day(name: str, raw: Mapping[str, Any], key: str) -> date | datetime:
    if key not in raw:
        raise CampaignError(f"campaign {name}: spec.{key} is required (a date)")
    try:
        return read_day_or_instant(raw[key])
    except DateError as exc:
        raise CampaignError(f"campaign {name}: {key}: {exc}") from exc


def _phases(name: str, raw: Any, start: date | datetime, deadline: date | datetime,
            zone: tzinfo) -> tuple[Phase, ...]:
    """Default: audit from the start, deny from the deadline."""
    if raw is None:
        raw = [{"enforcement": "audit", "from": start}, {"enforcement": "deny",
                                                          "from": deadline}]
    if not isinstance(raw, list) or not raw:
        raise CampaignError(f"campaign {name}: spec.schedule is a list of "
                            "{enforcement, from} phases")
    phases: list[Phase] = []
    for i, item in enumerate(raw):
        where = f"campaign {name}: spec.schedule[{i}]"
        if not isinstance(item, dict) or set(item) - {"enforcement", "from"}:
            raise CampaignError(f"{where} must be a mapping with enforcement and from")
        try:
            enforcement = Enforcement(item.get("enforcement"))
        except ValueError as exc:
            raise CampaignError(f"{where}: enforcement must be audit, warn or deny") from exc
        if "from" not in item:
            raise CampaignError(f"{where}: from (a date) is required")
        try:
            when = read_day_or_instant(item["from"])
        except DateError as exc:
            raise CampaignError(f"{where}: {exc}") from exc
        starts_at = start_of(when, zone)
        if phases and starts_at <= phases[-1].starts_at:
            raise CampaignError(f"{where}: phases must be in date order")
        phases.append(Phase(enforcement, shown(when), starts_at))
    if phases[0].starts_at < start_of(start, zone):
        raise CampaignError(f"campaign {name}: the first phase starts before the campaign")
    return tuple(phases)
