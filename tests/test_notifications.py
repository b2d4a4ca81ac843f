"""Campaign notifications against a loopback stand-in receiver: who gets a message and
when (phase changes, deadline reminders counted in the campaign's time zone), that an event
is never sent twice (also by two senders at once), retries, refusals, and the payloads.

The store state comes from the store's own `write_scan`; campaigns are files; `now` is
always injected and retries never really wait (the waits are recorded instead)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import pytest
from pathwarden.engine.store import Store

from .notify_support import (
    SECRET_PATH,
    TEAM_A,
    TEAM_B,
    TEAM_C,
    campaign_file,
    config,
    keys,
    run,
    seed,
    settings_of,
)
from .standins.notify_receiver import NotifyReceiver
from .webhook_support import free_port

NOV_5 = datetime(2026, 11, 5, 9, tzinfo=UTC)    # audit phase, 40 days left
DEC_2 = datetime(2026, 12, 2, 9, tzinfo=UTC)    # warn phase (from Dec 1), 13 days left


@pytest.fixture
def receiver():
    stand_in = NotifyReceiver().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def estate(tmp_path, database_url):
    """The store (SQLite and PostgreSQL) with the seeded estate and one campaign file."""
    store = Store.open(database_url)
    seed(store)
    campaign_file(tmp_path / "governance")
    yield store
    store.close()


def _settings(tmp_path, url, database_url="sqlite://", **notifications):
    return settings_of(config(tmp_path, database_url, url, **notifications))


# --- who hears about a phase, and only once -------------------------------------------------

def test_a_phase_is_announced_once_to_each_team_with_failing_services(
        tmp_path, estate, receiver, database_url):
    settings = _settings(tmp_path, receiver.url, database_url,
                         days_before_deadline="[7, 1]", dashboard_url="https://pw.example/")
    report = run(settings, estate, NOV_5)
    bodies = receiver.bodies()
    assert sorted(b["team"] for b in bodies) == [TEAM_A, TEAM_C]  # not team-b, not unowned
    assert [o.status for o in report.outcomes] == ["sent", "sent"]
    assert {r.path for r in receiver.requests} == {SECRET_PATH}
    a = next(b for b in bodies if b["team"] == TEAM_A)
    assert a["event"] == "campaign.phase"
    assert a["key"] == f"campaign/probes/phase/2026-11-01/team/{TEAM_A}"
    assert a["campaign"] == {
        "id": "probes", "title": "Probes everywhere", "goal": "Every production service has "
        "probes.", "owner": "group:default/platform", "description": "",
        "start": "2026-11-01", "deadline": "2026-12-15", "timezone": "UTC",
        "state": "running", "phase": {"enforcement": "audit", "from": "2026-11-01"},
        "next_phase": {"enforcement": "warn", "from": "2026-12-01"},
        "denies_from": "2026-12-15"}
    assert a["days_left"] == 40 and a["reminder_days"] is None
    assert a["failing_services"] == [{
        "ref": "component:default/web", "name": "web", "failing_policies": ["golden-probes"],
        "url": "https://pw.example/services/component:default/web"}]
    [policy] = a["failing_policies"]
    assert policy["id"] == "golden-probes" and policy["services"] == 1
    assert policy["title"] == "Liveness and readiness probes" and policy["remediation"]
    assert a["links"] == {"campaign": "https://pw.example/campaigns/probes",
                          "team": "https://pw.example/teams/group%3Adefault%2Fteam-a"}
    assert a["team_counts"] == {"compliant": 1, "waived": 0, "failing": 1, "no-data": 0}
    c = next(b for b in bodies if b["team"] == TEAM_C)
    assert c["failing_services"][0]["failing_policies"] == ["golden-probes"]  # the error

    # the same phase later: never twice, whichever run or process asks
    assert run(settings, estate, NOV_5.replace(day=20)).outcomes == []
    assert len(receiver.requests) == 2
    rows = estate.notifications(campaign="probes")
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]
    assert all(r.sent_at == NOV_5 for r in rows)

    # the next phase: announced once, and the earlier one is not repeated
    run(settings, estate, DEC_2)
    run(settings, estate, DEC_2)
    assert [(b["team"], b["campaign"]["phase"]["enforcement"]) for b in receiver.bodies()][2:] \
        == [(TEAM_A, "warn"), (TEAM_C, "warn")]


def test_a_first_run_mid_campaign_announces_only_the_phase_in_force(tmp_path, estate,
                                                                      receiver):
    settings = _settings(tmp_path, receiver.url, days_before_deadline="[1]")
    run(settings, estate, DEC_2)
    assert sorted(keys(estate)) == [f"campaign/probes/phase/2026-12-01/team/{t}"
                                    for t in (TEAM_A, TEAM_C)]


def test_nothing_is_said_before_a_campaign_starts(tmp_path, estate, receiver):
    settings = _settings(tmp_path, receiver.url)
    assert run(settings, estate, datetime(2026, 10, 31, 23, tzinfo=UTC)).outcomes == []
    assert receiver.requests == [] and keys(estate) == []


# --- deadline reminders ---------------------------------------------------------------------

def _reminders(receiver):
    return [(b["team"], b["reminder_days"], b["days_left"])
            for b in receiver.bodies("campaign.deadline")]


@pytest.mark.parametrize(("timezone", "reminder"), [
    # 2026-12-07T11:00Z is midnight of Dec 8 in Auckland (UTC+13): 7 days to Dec 15 there;
    # in UTC it is still Dec 7, 8 days before, when only the 14-day reminder is due.
    ("Pacific/Auckland", 7), ("UTC", 14)])
def test_reminders_count_days_in_the_campaign_time_zone(tmp_path, receiver, timezone,
                                                        reminder):
    store = Store.open(f"sqlite:///{tmp_path / 'pw.db'}")
    seed(store)
    campaign_file(tmp_path / "governance", timezone=timezone, warn_from=None)
    settings = _settings(tmp_path, receiver.url)
    run(settings, store, datetime(2026, 12, 7, 11, tzinfo=UTC))
    assert [(team, n) for team, n, _ in _reminders(receiver)] == [(TEAM_A, reminder),
                                                                  (TEAM_C, reminder)]
    store.close()


def test_reminders_before_at_and_after_each_day(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path / 'pw.db'}")
    seed(store, {"component:default/web": (TEAM_A, {"golden-probes": "fail"})})
    campaign_file(tmp_path / "governance", warn_from=None)
    settings = _settings(tmp_path, receiver.url)

    def at(month: int, day: int, hour: int = 0) -> list[tuple[str, int, int]]:
        before = len(receiver.bodies("campaign.deadline"))
        run(settings, store, datetime(2026, month, day, hour, tzinfo=UTC))
        return _reminders(receiver)[before:]

    assert at(11, 30, 23) == []                  # 15 days left
    assert at(12, 1) == [(TEAM_A, 14, 14)]       # the first instant of 14 days left
    assert at(12, 2) == []                       # 13: the 14-day one is not repeated
    assert at(12, 8) == [(TEAM_A, 7, 7)]
    assert at(12, 14) == [(TEAM_A, 1, 1)]
    assert at(12, 15) == [] and at(12, 20) == []  # the deadline itself, and after it
    assert sorted(keys(store)) == sorted(
        [f"campaign/probes/deadline/{n}d/team/{TEAM_A}" for n in (14, 7, 1)]
        + [f"campaign/probes/phase/{d}/team/{TEAM_A}" for d in ("2026-11-01", "2026-12-15")])
    store.close()


def test_a_late_first_run_sends_the_most_specific_reminder_and_skips_the_others(
        tmp_path, estate, receiver):
    settings = _settings(tmp_path, receiver.url, days_before_deadline="[14, 7, 1]")
    report = run(settings, estate, datetime(2026, 12, 10, 8, tzinfo=UTC))  # 5 days left
    assert _reminders(receiver) == [(TEAM_A, 7, 5), (TEAM_C, 7, 5)]
    assert sorted(keys(estate, "skipped")) == [
        f"campaign/probes/deadline/14d/team/{t}" for t in (TEAM_A, TEAM_C)]
    assert sorted(o.status for o in report.outcomes) == ["sent"] * 4 + ["skipped"] * 2
    run(settings, estate, datetime(2026, 12, 11, 8, tzinfo=UTC))
    assert len(_reminders(receiver)) == 2


# --- delivery: retries, refusals, secrets ---------------------------------------------------

def test_server_errors_are_retried_with_backoff_then_sent(tmp_path, estate, receiver):
    receiver.fail_first = 2
    settings = _settings(tmp_path, receiver.url, retries=3, backoff_seconds=1.5)
    sleeps: list[float] = []
    report = run(settings, estate, NOV_5, sleeps)
    assert sleeps == [1.5, 3.0]
    assert [(o.status, o.attempts) for o in report.outcomes] == [("sent", 3), ("sent", 1)]
    assert len(receiver.requests) == 4
    assert [r.body for r in receiver.requests[:3]] == [receiver.requests[0].body] * 3
    assert [(r.status, r.attempts, r.last_error) for r in estate.notifications()] == [
        ("sent", 3, None), ("sent", 1, None)]


def test_a_receiver_that_stays_down_is_retried_at_later_runs_then_given_up(
        tmp_path, estate, receiver, caplog):
    receiver.fail_first = 1000
    settings = _settings(tmp_path, receiver.url, retries=1)
    caplog.set_level(logging.INFO, logger="pathwarden.notify")
    first = run(settings, estate, NOV_5)
    # the first event used its attempts; the second is not tried while the receiver is down
    assert [(o.status, o.attempts) for o in first.outcomes] == [("pending", 2),
                                                                ("deferred", 0)]
    assert len(receiver.requests) == 2
    rows = estate.notifications()
    assert [(r.status, r.attempts) for r in rows] == [("pending", 2), ("pending", 0)]
    assert rows[0].last_error == f"HTTP 500 from {receiver.url}: oops"
    run(settings, estate, NOV_5)
    third = run(settings, estate, NOV_5)  # (1 + retries) * 3 runs' worth of attempts
    assert third.outcomes[0].status == "failed" and third.outcomes[0].attempts == 6
    receiver.fail_first = 0
    run(settings, estate, NOV_5)
    assert [(r.status, r.attempts) for r in estate.notifications()] == [("failed", 6),
                                                                         ("sent", 1)]
    assert "s3cr3t" not in caplog.text and receiver.url in caplog.text


def test_a_refusal_fails_at_once_without_retrying(tmp_path, estate, receiver):
    receiver.status = 404
    settings = _settings(tmp_path, receiver.url, retries=3)
    sleeps: list[float] = []
    report = run(settings, estate, NOV_5, sleeps)
    assert [(o.status, o.attempts) for o in report.outcomes] == [("failed", 1)] * 2
    assert sleeps == [] and len(receiver.requests) == 2
    assert estate.notifications()[0].last_error == f"HTTP 404 from {receiver.url}: no_service"
    receiver.status = 200
    assert run(settings, estate, NOV_5).outcomes == []  # a failed event stays failed


def test_throttling_waits_as_long_as_the_receiver_asks(tmp_path, estate, receiver):
    receiver.fail_first, receiver.retry_after = 1, "7"
    settings = _settings(tmp_path, receiver.url, retries=2, backoff_seconds=1)
    sleeps: list[float] = []
    run(settings, estate, NOV_5, sleeps)
    assert sleeps == [7.0]


def test_an_unreachable_receiver_is_retried_and_its_address_is_never_logged(
        tmp_path, estate, caplog):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = _settings(tmp_path, url, retries=1, timeout_seconds=2)
    caplog.set_level(logging.INFO, logger="pathwarden.notify")
    report = run(settings, estate, NOV_5)
    assert report.outcomes[0].status == "pending"
    assert report.outcomes[0].error.startswith(f"cannot reach {url}: ")
    assert "s3cr3t" not in caplog.text + str(report) + estate.notifications()[0].last_error


def test_configured_headers_are_sent(tmp_path, estate, receiver):
    settings = _settings(tmp_path, receiver.url, headers="{X-Pathwarden-Token: abc}")
    run(settings, estate, NOV_5)
    headers = receiver.requests[0].headers
    assert headers["X-Pathwarden-Token"] == "abc"
    assert headers["Content-Type"] == "application/json"


def test_without_a_url_events_are_recorded_as_unsent_and_never_sent_later(
        tmp_path, estate, receiver):
    report = run(_settings(tmp_path, None), estate, NOV_5)
    assert [o.status for o in report.outcomes] == ["unsent", "unsent"]
    assert len(keys(estate, "unsent")) == 2
    run(_settings(tmp_path, receiver.url), estate, NOV_5)
    assert receiver.requests == []  # stale news does not flood the channel once configured


# --- two senders at once --------------------------------------------------------------------

def test_two_senders_at_once_send_each_event_exactly_once(tmp_path, estate, receiver,
                                                          database_url):
    """Two replicas (each its own Store) running the same due events at the same moment."""
    receiver.delay = 0.05
    settings = _settings(tmp_path, receiver.url, database_url)
    stores = [Store.open(database_url) for _ in range(2)]
    start = threading.Barrier(2)
    reports, errors = [], []

    def sender(store: Store) -> None:
        try:
            start.wait()
            reports.append(run(settings, store, DEC_2))
        except Exception as exc:  # surfaced below with the other thread's result
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == []
    sent = sorted(b["key"] for b in receiver.bodies())
    assert sent == sorted(set(sent)) and len(sent) == 4  # 2 teams x (phase + 14d reminder)
    outcomes = [o for r in reports for o in r.outcomes if o.status == "sent"]
    assert len(outcomes) == 4
    assert {r.status for r in estate.notifications()} == {"sent"}


def test_compliant_teams_hear_nothing(tmp_path, receiver):
    store = Store.open(f"sqlite:///{tmp_path / 'pw.db'}")
    seed(store, {"component:default/cart": (TEAM_B, {"golden-probes": "pass"})})
    campaign_file(tmp_path / "governance")
    run(_settings(tmp_path, receiver.url), store, DEC_2)
    assert receiver.requests == [] and keys(store) == []
    store.close()
