"""Scorecards: definitions are validated with file and reason; levels and scores follow the
rules of the README (n/a is not a pass, errors and waivers never count as passed); results
are stored per day with since/fixed dates; a real scan of the example estate gets levels."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pathwarden.engine import load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.compute import score_service
from pathwarden.scorecards.definitions import load_scorecards, parse_scorecard

ROOT = Path(__file__).resolve().parents[1]
CARD = parse_scorecard({
    "id": "ladder", "title": "Ladder", "golden_path": "deploy",
    "filter": {"lifecycle": ["production"]},
    "levels": [
        {"name": "bronze", "rules": [{"policy": "p-a", "weight": 2}, {"tag": "t:b"}]},
        {"name": "silver", "rules": ["p-c"]},
        {"name": "gold", "rules": [{"id": "cfr", "fact": "delivery.change_failure_rate",
                                     "op": "<=", "value": 0.15, "title": "CFR"}]},
    ]})
TAGS = {"t:b": ["p-b1", "p-b2"]}
DAY = date(2026, 11, 20)


def _score(counts, facts=None, previous=None, day=DAY):
    counts = {("svc", policy): c for policy, c in counts.items()}
    return score_service(CARD, "svc", counts, TAGS, facts or {}, previous or {}, day)


def _statuses(result):
    return {r["id"]: r["status"] for r in result["rules"]}


def test_a_service_passing_everything_reaches_the_top_level_with_score_one():
    result = _score({"p-a": {"pass": 2}, "p-b1": {"pass": 1}, "p-b2": {"warn": 1},
                     "p-c": {"pass": 1}}, {"delivery": {"change_failure_rate": 0.1}})
    assert (result["level"], result["level_index"], result["score"]) == ("gold", 2, 1.0)
    assert _statuses(result)["t-b"] == "warn"  # warnings pass, and are shown


def test_a_failing_lower_rule_caps_the_level_and_weights_make_the_score():
    result = _score({"p-a": {"pass": 1, "fail": 1}, "p-b1": {"pass": 1}, "p-c": {"pass": 1}},
                    {"delivery": {"change_failure_rate": 0.5}})
    assert result["level"] is None
    # applicable weights: p-a 2 (fail), t:b 1, p-c 1, cfr 1 (fail) -> 2 of 5 passed
    assert result["score"] == 0.4


def test_not_applicable_rules_neither_pass_nor_block():
    result = _score({"p-a": {"pass": 1}, "p-c": {"skip": 1}})
    statuses = _statuses(result)
    assert statuses["t-b"] == "n/a" and statuses["p-c"] == "n/a" and statuses["cfr"] == "n/a"
    assert result["level"] == "gold" and result["score"] == 1.0


def test_no_applicable_rule_at_all_means_no_level_and_no_score():
    result = _score({})
    assert (result["level"], result["score"]) == (None, None)


@pytest.mark.parametrize("status", ["error", "waived"])
def test_errors_and_waivers_are_shown_as_such_and_never_passed(status):
    result = _score({"p-a": {"pass": 1}, "p-b1": {status: 1, "pass": 3}, "p-c": {"pass": 1}})
    assert _statuses(result)["t-b"] == status
    assert result["level"] is None
    assert result["score"] == pytest.approx(3 / 4)


def test_since_and_fixed_dates_carry_over_days():
    first = _score({"p-a": {"fail": 1}}, day=date(2026, 11, 18))
    assert first["rules"][0]["since"] == "2026-11-18"
    previous = {r["id"]: r for r in first["rules"]}
    still = _score({"p-a": {"fail": 1}}, previous=previous, day=date(2026, 11, 19))
    assert still["rules"][0]["since"] == "2026-11-18"
    fixed = _score({"p-a": {"pass": 1}}, previous={r["id"]: r for r in still["rules"]},
                   day=date(2026, 11, 20))
    assert (fixed["rules"][0]["since"], fixed["rules"][0]["fixed"]) == (None, "2026-11-20")


def test_filters_pick_the_services_a_scorecard_applies_to():
    assert CARD.applies_to({"lifecycle": "production"})
    assert not CARD.applies_to({"lifecycle": "experimental"})


@pytest.mark.parametrize(("text", "reason"), [
    ("id: Bad Id\nlevels: []\n", "id 'Bad Id' must match"),
    ("id: x\nlevels: []\n", "scorecard x: levels must be a non-empty list"),
    ("id: x\nlevels:\n  - name: a\n    rules: [{policy: p, tag: t}]\n",
     "give exactly one of policy, tag or fact"),
    ("id: x\nlevels:\n  - name: a\n    rules: [{fact: delivery.x, op: '~', value: 1}]\n",
     "op must be one of"),
    ("id: x\nlevels:\n  - name: a\n    rules: [{policy: p, weight: 0}]\n",
     "weight must be a positive number"),
    ("id: x\nfilter: {colour: red}\nlevels:\n  - name: a\n    rules: [p]\n",
     "unknown filter key(s) ['colour']"),
    ("id: x\nlevels: [\n", "invalid YAML"),
])
def test_invalid_definitions_are_reported_with_file_and_reason(tmp_path, text, reason):
    (tmp_path / "good.yaml").write_text("id: good\nlevels:\n  - name: a\n    rules: [p]\n")
    (tmp_path / "bad.yaml").write_text(text)
    found = load_scorecards([tmp_path], builtin=False)
    assert [c.id for c in found.scorecards] == ["good"]
    [problem] = found.problems
    assert problem.location.file == str(tmp_path / "bad.yaml")
    assert reason in problem.message


def test_the_builtin_scorecards_name_only_existing_policies_and_tags():
    cards = load_scorecards([])
    assert cards.problems == []
    assert {c.id for c in cards.scorecards} == {"secure-workloads", "production-readiness",
                                                 "repository-hygiene", "supply-chain-ci"}
    policies = load_policies().policies
    ids = {p.id for p in policies}
    tags = {t for p in policies for t in p.tags}
    for card in cards.scorecards:
        for rule in card.rules:
            assert rule.policy in ids if rule.policy else True, rule
            assert rule.tag in tags if rule.tag else True, rule


def test_a_scan_computes_and_stores_scorecards(tmp_path, database_url, capsys):
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{database_url}"}}
policies:
  parameters: {{golden-allowed-registries: {{registries: [registry.acme.example/]}}}}
scan:
  catalog: [{ROOT}/examples/estate/catalog]
  manifests: [{ROOT}/examples/estate/manifests]
""", encoding="utf-8")
    assert main(["scan", "--config", str(cfg)]) == 0
    capsys.readouterr()
    settings = load_settings(cfg, {})
    with Store.open(settings.store.url) as store:
        results = store.scorecard_results()
        by = {(r.scorecard, r.service): r for r in results}
        web = by["secure-workloads", "component:default/shop-web"]
        assert web.level == "gold" and web.score == 1.0
        assert web.owner == "group:default/team-shop"
        payments = by["secure-workloads", "component:default/payments-api"]
        rules = {r["id"]: r for r in payments.rules}
        assert rules["pss-baseline"]["status"] == "fail"
        assert rules["pss-baseline"]["since"] == results[0].day.isoformat()
        assert payments.level is None
        # no repository was scanned: repository rules do not apply (not passed)
        hygiene = by["repository-hygiene", "component:default/shop-web"]
        assert hygiene.score is None and {r["status"] for r in hygiene.rules} == {"n/a"}
