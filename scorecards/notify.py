"""Campaign notifications: tell each owning team with failing services what is coming.

Two kinds of event, each one message per team that has failing services in the campaign
(teams that comply hear nothing; services without an owner have no one to tell):

- `campaign.phase`: the phase in force (audit, warn, deny) — only the current one, never
  past phases, so a first run in the middle of a campaign announces where it stands now.
  Key `campaign/<id>/phase/<from>/team/<team>`. A team that starts failing after the phase
  began hears about it at the first run that sees it failing.
- `campaign.deadline`: `days_before_deadline` reminders (14, 7, 1 days by default),
  counted in calendar days in the campaign's time zone. Key
  `campaign/<id>/deadline/<n>d/team/<team>`. When several are due at once (a first run 5
  days before the deadline), only the most specific is sent and the larger ones are
  recorded as `skipped`, so nobody gets three reminders in one morning.

The store is the outbox: an event is claimed by inserting its key (unique), then moved from
`pending` to `sending` by one conditional update before the POST, so neither a second run
nor a second replica ever sends it again: at most once. Delivery failures that may heal
(connection errors, 5xx, 429) are retried with backoff within the run and the event stays
`pending` for the next run, up to `RUNS` runs' worth of attempts; a refusal (another 4xx,
a redirect) fails it at once. With no URL configured, due events are recorded as `unsent`
and never sent later, so configuring a URL does not flood a channel with stale news.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..engine.governance import Phase
from ..engine.governance.config import NotificationSettings
from ..engine.model import Policy
from ..engine.store import Store
from .campaigns import CampaignProgress, ServiceState
from .notify_delivery import deliver, encode, origin, render, summary

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from ..engine.settings import Settings

log = logging.getLogger("pathwarden.notify")

PHASE = "campaign.phase"
DEADLINE = "campaign.deadline"
RUNS = 3
"""An event whose delivery keeps failing is retried at this many runs, then `failed`."""
UNOWNED = "unowned"
DOCUMENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class DueEvent:
    key: str
    campaign: str
    team: str
    event: str
    status: str
    """`pending` (to send) or `skipped` (a larger reminder overtaken by a smaller one)."""
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did with one event."""

    key: str
    status: str
    """sent | pending (retried next run) | failed | skipped | unsent | deferred (not tried:
    the receiver was down for an earlier event of this run) | lost (another sender won)."""
    attempts: int = 0
    error: str | None = None
    summary: str = ""


@dataclass(slots=True)
class NotifyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    destination: str = "(no URL)"
    """The receiver's origin only: the URL itself is a secret."""

    def having(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[Outcome]:
        return self.having("failed")


def notification_settings(settings: Settings | NotificationSettings) -> NotificationSettings:
    """Callers hold either the whole configuration or just its `governance.notifications`."""
    if isinstance(settings, NotificationSettings):
        return settings
    return settings.governance.notifications


# --- what is due -----------------------------------------------------------------------------

def due_events(progress_list: Iterable[CampaignProgress],
               settings: Settings | NotificationSettings, now: datetime, *,
               policies: Mapping[str, Policy] | None = None) -> list[DueEvent]:
    """Every event due at `now` for every team with failing services, whether or not it was
    already recorded (the store's claim decides that). Pure: no store, no clock."""
    notify = notification_settings(settings)
    events: list[DueEvent] = []
    for progress in progress_list:
        campaign = progress.campaign
        if progress.phase is None:
            continue  # not started: it changes nothing yet, so there is nothing to say
        reminders = ([n for n in notify.days_before_deadline if 0 < progress.days_left <= n]
                     if progress.state == "running" else [])
        for team, services in sorted(progress.failing_by_team().items()):
            if team == UNOWNED:
                continue
            base = f"campaign/{campaign.id}"
            key = f"{base}/phase/{progress.phase.starts}/team/{team}"
            events.append(DueEvent(key, campaign.id, team, PHASE, "pending", document(
                progress, team, services, PHASE, key, now, notify, policies)))
            smallest = min(reminders, default=None)
            for n in reminders:
                key = f"{base}/deadline/{n}d/team/{team}"
                events.append(DueEvent(
                    key, campaign.id, team, DEADLINE,
                    "pending" if n == smallest else "skipped",
                    document(progress, team, services, DEADLINE, key, now, notify, policies,
                             reminder=n)))
    return events


def document(progress: CampaignProgress, team: str, services: Sequence[ServiceState],
             event: str, key: str, now: datetime, notify: NotificationSettings,
             policies: Mapping[str, Policy] | None = None, *,
             reminder: int | None = None) -> dict[str, Any]:
    """pathwarden's own event document: what the `json` format POSTs as is, and what is
    stored with the event (Slack messages are rendered from it when sent)."""
    c = progress.campaign
    base = (notify.dashboard_url or "").rstrip("/") or None
    deny = c.denies_from()
    failing: dict[str, int] = {}
    for s in services:
        for p in s.failing:
            failing[p] = failing.get(p, 0) + 1
    return {
        "version": DOCUMENT_VERSION,
        "event": event,
        "key": key,
        "time": now.astimezone(UTC).isoformat(timespec="seconds"),
        "team": team,
        "campaign": {
            "id": c.id, "title": c.title, "goal": c.goal, "owner": c.owner,
            "description": c.description, "start": c.start, "deadline": c.deadline,
            "timezone": c.timezone, "state": progress.state,
            "phase": _phase(progress.phase), "next_phase": _phase(progress.next_phase),
            "denies_from": deny.starts if deny else None,
        },
        "days_left": progress.days_left,
        "reminder_days": reminder,
        "failing_services": [
            {"ref": s.ref, "name": s.name, "failing_policies": list(s.failing),
             "url": f"{base}/services/{quote(s.ref, safe=':/')}" if base else None}
            for s in sorted(services, key=lambda s: s.ref)],
        "failing_policies": [_policy(p, n, (policies or {}).get(p), base)
                             for p, n in sorted(failing.items())],
        "team_counts": progress.by_team.get(team, {}),
        "links": {
            "campaign": f"{base}/campaigns/{quote(c.id, safe='')}" if base else None,
            "team": f"{base}/teams/{quote(team, safe='')}" if base else None,
        },
    }


def _phase(phase: Phase | None) -> dict[str, str] | None:
    return None if phase is None else {"enforcement": phase.enforcement.value,
                                       "from": phase.starts}


def _policy(policy_id: str, services: int, policy: Policy | None,
            base: str | None) -> dict[str, Any]:
    return {"id": policy_id, "title": policy.title if policy else None,
            "remediation": policy.remediation if policy else None,
            "docs": policy.url if policy else None, "services": services,
            "url": f"{base}/policies/{quote(policy_id, safe='')}" if base else None}


def not_yet_recorded(store: Store, events: Iterable[DueEvent]) -> list[DueEvent]:
    """For a dry run: the events a real run would record now."""
    known = {row.event_key for row in store.notifications()}
    return [e for e in events if e.key not in known]


# --- recording and sending -------------------------------------------------------------------

def send_notifications(store: Store, settings: Settings | NotificationSettings,
                       progress_list: Iterable[CampaignProgress], now: datetime, *,
                       sleep: Callable[[float], None] = time.sleep,
                       policies: Mapping[str, Policy] | None = None) -> NotifyReport:
    """Claim what is due in the store, then deliver every pending event (new ones and those
    left for a retry by earlier runs). Raises StoreError; delivery problems are outcomes."""
    notify = notification_settings(settings)
    report = NotifyReport(destination=origin(notify.url))
    for event in due_events(progress_list, notify, now, policies=policies):
        status = event.status if notify.url or event.status == "skipped" else "unsent"
        if store.claim_notification(event.key, campaign=event.campaign, team=event.team,
                                    event=event.event, payload=event.document, now=now,
                                    status=status) and status != "pending":
            report.outcomes.append(Outcome(event.key, status, summary=summary(event.document)))
    if not notify.url:
        if report.outcomes:
            log.info("no notification URL configured (governance.notifications.url or "
                     "PATHWARDEN_NOTIFY_URL): %d event(s) recorded as unsent",
                     len(report.having("unsent")))
        return report
    receiver_down = False
    for row in store.pending_notifications():
        assert row.id is not None
        text = _summary(row.payload)
        if receiver_down:
            report.outcomes.append(Outcome(row.event_key, "deferred", row.attempts,
                                           row.last_error, text))
            continue
        if not store.start_sending(row.id):
            report.outcomes.append(Outcome(row.event_key, "lost", row.attempts, None, text))
            continue
        try:
            body = encode(render(row.payload, notify.format))
            result = deliver(notify.url, body, headers=notify.headers,
                             timeout=notify.timeout_seconds, retries=notify.retries,
                             backoff_seconds=notify.backoff_seconds, sleep=sleep)
            ok, tries, retryable, error = (result.ok, result.attempts, result.retryable,
                                           result.error)
        except Exception as exc:  # a bug must not strand the row in `sending`
            log.exception("notification %s could not be prepared", row.event_key)
            ok, tries, retryable, error = False, 0, True, f"internal error: {type(exc).__name__}"
        attempts = row.attempts + tries
        if ok:
            status = "sent"
        elif retryable and attempts < (notify.retries + 1) * RUNS:
            status, receiver_down = "pending", True
        else:
            status, receiver_down = "failed", receiver_down or retryable
        store.finish_notification(row.id, status=status, attempts=attempts,
                                  error=None if ok else error, now=now)
        report.outcomes.append(Outcome(row.event_key, status, attempts, error, text))
        _log(status, row.event_key, report.destination, attempts, error)
    return report


def _summary(payload: Mapping[str, Any]) -> str:
    try:
        return summary(payload)
    except (KeyError, TypeError):
        return ""


def _log(status: str, key: str, where: str, attempts: int, error: str | None) -> None:
    if status == "sent":
        log.info("notification %s sent to %s", key, where)
    elif status == "pending":
        log.warning("notification %s not delivered to %s after %d attempt(s), retried at "
                    "the next run: %s", key, where, attempts, error)
    else:
        log.error("notification %s failed for good (%d attempt(s)): %s", key, attempts, error)


# --- for the processes: scan, serve, the `notify` command ------------------------------------

def notify_now(settings: Settings, store: Store, policies: Iterable[Policy],
               now: datetime | None = None, *,
               sleep: Callable[[float], None] = time.sleep) -> NotifyReport:
    """Read the governance the configuration describes and send what is due now."""
    from ..engine.governance import load_governance
    from .campaigns import campaigns_progress

    now = now or datetime.now(UTC)
    governance, problems = load_governance(settings, now, store=store)
    for problem in problems:
        log.warning("%s", problem)
    policy_list = list(policies)
    progress = campaigns_progress(store, governance, policy_list, now, trend_days=1)
    return send_notifications(store, settings, progress, now, sleep=sleep,
                              policies={p.id: p for p in policy_list})


def notify_quietly(settings: Settings, store: Store, policies: Iterable[Policy]) -> None:
    """After a scan, and on the hourly schedule: failures are logged, never raised, so a
    webhook that is down cannot fail a scan or stop the server."""
    try:
        notify_now(settings, store, policies)
    except Exception:
        log.exception("campaign notifications failed")


def schedule_notifications(job: Callable[[], None], timezone: str) -> BackgroundScheduler:
    """Hourly at :05. Phases change at midnight in each campaign's own time zone, with or
    without a scan; checking every hour catches every zone's midnight within the hour, and a
    run with nothing due costs a few reads."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BackgroundScheduler(timezone=timezone)
    scheduler.add_job(job, CronTrigger(minute=5, timezone=timezone), id="notify",
                      max_instances=1, coalesce=True, misfire_grace_time=3600)
    scheduler.start()
    return scheduler
