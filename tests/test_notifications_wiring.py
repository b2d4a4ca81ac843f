"""Campaign notifications as people meet them: the Slack-compatible message, the
`pathwarden notify` command, and the processes that send them (`scan` after every scan,
`serve` after its scans and every hour). The receiver is the loopback stand-in."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from pathwarden.engine.cli.main import main
from pathwarden.engine.cli.serve_cmd import after_scan_work
from pathwarden.engine.governance import load_governance
from pathwarden.engine.loading.configured import configured_policy_set
from pathwarden.engine.store import Store
from pathwarden.scorecards.campaigns import campaigns_progress
from pathwarden.scorecards.notify import schedule_notifications

from .notify_support import (
    SECRET_PATH,
    TEAM_A,
    campaign_file,
    config,
    keys,
    run,
    seed,
    settings_of,
)
from .standins.notify_receiver import NotifyReceiver

ROOT = Path(__file__).resolve().parents[1]
ESTATE = ROOT / "examples" / "estate"
DEC_2 = datetime(2026, 12, 2, 9, tzinfo=UTC)


@pytest.fixture
def receiver():
    stand_in = NotifyReceiver().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def store(tmp_path):
    opened = Store.open(f"sqlite:///{tmp_path / 'pw.db'}")
    yield opened
    opened.close()


# --- the Slack-compatible format ------------------------------------------------------------

def test_the_slack_format_is_an_incoming_webhook_message_with_text_and_blocks(
        tmp_path, store, receiver):
    """Block Kit: a plain_text header of at most 150 characters, mrkdwn sections of at most
    3000, a context block; catalog names are escaped, so `<!channel>` pings nobody."""
    many = {f"component:default/svc-{i:03}": (TEAM_A, {"golden-probes": "fail"})
            for i in range(150)}
    seed(store, many, names={"component:default/svc-000": "<!channel> & co"})
    campaign_file(tmp_path / "governance", title="Probes " + "everywhere " * 20)
    settings = settings_of(config(tmp_path, "sqlite://", receiver.url, format="slack",
                                  dashboard_url="https://pw.example"))
    run(settings, store, DEC_2)
    phase, reminder = (r.body for r in receiver.requests)
    assert set(phase) == {"text", "blocks"}
    assert phase["text"].startswith("Probes everywhere") and "team-a: 150 services failing" \
        in phase["text"]
    header, intro, services, rules, context = phase["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    assert header["text"]["text"].endswith("everywhere…: now warn")
    for block in (intro, services, rules):
        assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
        assert len(block["text"]["text"]) <= 3000
    assert intro["text"]["text"].startswith("*team-a* has 150 services failing campaign "
                                    "*<https://pw.example/campaigns/probes|Probes")
    assert ("Since 2026-12-01 its rules warn at admission. They deny from the deadline, "
            "2026-12-15 (in 13 days).") in intro["text"]["text"]
    lines = services["text"]["text"].splitlines()
    assert lines[1] == ("• <https://pw.example/services/component:default/svc-000|"
                        "&lt;!channel&gt; &amp; co>: `golden-probes`")
    assert lines[-1].startswith("…and ") and lines[-1].endswith(" more (the JSON format "
                                                                "lists all)")
    assert "`golden-probes` Liveness and readiness probes — Add readinessProbe" in \
        rules["text"]["text"]
    assert context["type"] == "context" and context["elements"][0]["type"] == "mrkdwn"
    assert "<https://pw.example/teams/group%3Adefault%2Fteam-a|team page>" in \
        context["elements"][0]["text"]
    assert "<!channel>" not in str(phase)
    assert reminder["blocks"][0]["text"]["text"].endswith(": 13 days to the deadline")


# --- `pathwarden notify` --------------------------------------------------------------------

def _today_campaign(tmp_path: Path, **dates: int) -> None:
    """Campaign dates around the real today: the command reads the clock itself."""
    today = datetime.now(UTC).date()
    days = {"start": -10, "deadline": 40, **dates}
    campaign_file(tmp_path / "governance", warn_from=None,
                  **{k: (today + timedelta(days=v)).isoformat() for k, v in days.items()})


def test_the_notify_command_sends_what_is_due_once_and_says_so(tmp_path, store, receiver,
                                                               capsys):
    seed(store)
    _today_campaign(tmp_path)
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'pw.db'}", receiver.url)

    assert main(["notify", "--config", str(cfg), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("would send: Probes everywhere: now audit") == 2
    assert "team-a: 1 service failing" in out and "team-c: 1 service failing" in out
    assert receiver.requests == [] and keys(store) == []

    assert main(["notify", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.count("\nsent: ") + out.startswith("sent: ") == 2
    assert "[campaign/probes/phase/" in out
    assert out.splitlines()[-1] == f"notifications to {receiver.url}: 2 sent"
    assert SECRET_PATH not in out and len(receiver.requests) == 2

    assert main(["notify", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(": nothing due")


def test_the_notify_command_exits_1_when_delivery_fails(tmp_path, store, receiver, capsys):
    seed(store)
    _today_campaign(tmp_path)
    receiver.status = 404
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'pw.db'}", receiver.url)
    assert main(["notify", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "failed: Probes everywhere: now audit — team-a: 1 service failing " \
           "[campaign/probes/phase/" in out
    assert f"HTTP 404 from {receiver.url}: no_service" in out
    assert out.splitlines()[-1] == f"notifications to {receiver.url}: 2 failed"


def test_the_notify_command_exits_2_on_unusable_configuration(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("governance:\n  notifications:\n    format: teams\n", encoding="utf-8")
    assert main(["notify", "--config", str(bad)]) == 2
    assert "governance.notifications.format is 'teams'" in capsys.readouterr().err


def test_without_a_url_the_command_records_and_says_nothing_was_sent(tmp_path, store,
                                                                     capsys):
    seed(store)
    _today_campaign(tmp_path)
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'pw.db'}", None)
    assert main(["notify", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.count("recorded, not sent (no URL): ") == 2
    assert out.splitlines()[-1] == "notifications to (no URL): 2 unsent"


# --- the processes that send them -----------------------------------------------------------

def test_a_scan_is_followed_by_the_notifications_it_makes_due(tmp_path, receiver, capsys):
    """A real `pathwarden scan` of the example estate, with a campaign over its golden-path
    rules: every team with failing services in it hears once, and no other team."""
    manifests = tmp_path / "manifests"
    shutil.copytree(ESTATE / "manifests", manifests)
    _today_campaign(tmp_path)
    text = (tmp_path / "governance" / "probes.yaml").read_text(encoding="utf-8")
    (tmp_path / "governance" / "probes.yaml").write_text(
        text.replace("[golden-probes]", "['golden-*']"), encoding="utf-8")
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'pw.db'}", receiver.url)
    cfg.write_text(cfg.read_text(encoding="utf-8") + f"""
policies:
  parameters: {{golden-allowed-registries: {{registries: [registry.acme.example/]}}}}
scan:
  catalog: [{ESTATE / 'catalog'}]
  manifests: [{manifests}]
""", encoding="utf-8")
    assert main(["scan", "--config", str(cfg)]) in (0, 1)
    capsys.readouterr()
    settings = settings_of(cfg)
    now = datetime.now(UTC)
    with Store.open(settings.store.url) as store:
        governance, _ = load_governance(settings, now, store=store)
        [progress] = campaigns_progress(store, governance,
                                        configured_policy_set(settings).policies, now)
        failing = sorted(t for t in progress.failing_by_team() if t != "unowned")
        assert failing, "the example estate should fail some golden-path rule"
        assert sorted(b["team"] for b in receiver.bodies()) == failing
        assert {r.status for r in store.notifications()} == {"sent"}
    assert main(["scan", "--config", str(cfg)]) in (0, 1)
    assert len(receiver.requests) == len(failing)  # the next scan sends nothing again


def test_serve_sends_after_its_scans_and_checks_every_hour(tmp_path, store, receiver):
    seed(store)
    _today_campaign(tmp_path)
    settings = settings_of(config(tmp_path, "sqlite://", receiver.url))
    policy_set = SimpleNamespace(policies=configured_policy_set(settings).policies)
    after_scan_work(settings, store, policy_set, SimpleNamespace(status="failed", scan_id=1))
    assert receiver.requests == []  # a failed scan changes nothing to tell
    after_scan_work(settings, store, policy_set, SimpleNamespace(status="succeeded",
                                                                 scan_id=1))
    assert sorted(b["team"] for b in receiver.bodies()) == [TEAM_A,
                                                            "group:default/team-c"]

    scheduler = schedule_notifications(lambda: None, "Pacific/Auckland")
    try:
        trigger = scheduler.get_job("notify").trigger
        midnight = datetime(2026, 12, 1, tzinfo=ZoneInfo("Pacific/Auckland"))
        first = trigger.get_next_fire_time(None, midnight)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
        assert (first - midnight, second - first) == (timedelta(minutes=5), timedelta(hours=1))
    finally:
        scheduler.shutdown(wait=False)
