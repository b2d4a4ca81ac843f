"""`pathwarden report`: what a lead reads in the golden-path adoption report.

Two estates: a hand-made one (scorecard rows from `score_service`, so they have compute's
exact shape) where every number is known, and a real scan of the example estate on SQLite
and PostgreSQL, end to end through the scanner, the scorecards and the command.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import lxml.html
import pytest
from pathwarden.engine import load_policies
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import ScanResult, Store
from pathwarden.scorecards.compute import score_service
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.definitions import ScorecardSet, load_scorecards, parse_scorecard
from pathwarden.scorecards.report import (
    VERSION,
    build_report,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from pathwarden.scorecards.views import ServiceFilter

from .report_support import external_resources

ROOT = Path(__file__).resolve().parents[1]
ESTATE = ROOT / "examples" / "estate"
TODAY = date(2026, 11, 20)
POLICIES = {p.id: p for p in load_policies().policies}

CARD = parse_scorecard({
    "id": "deploy", "title": "Deploy path", "description": "Ship <safely> & often.",
    "levels": [
        {"name": "bronze", "rules": [
            {"policy": "golden-probes", "title": "Probes", "weight": 2},
            {"tag": "pss:baseline", "title": "PSS baseline"}]},
        {"name": "silver", "rules": [
            {"id": "cfr", "fact": "delivery.change_failure_rate", "op": "<=", "value": 0.15,
             "title": "Change failure rate", "remediation": "Ship smaller changes."}]},
        {"name": "gold", "rules": [{"policy": "golden-replicas", "title": "Replicas"}]},
    ]})
SERVICES = {  # ref -> owner, system, lifecycle, tier
    "component:default/a": ("group:default/team-a", "system:default/s1", "production", "1"),
    "component:default/b": ("group:default/team-a", "system:default/s2", "production", "2"),
    "component:default/c": ("group:default/team-b", "system:default/s1", "experimental", "3"),
    "component:default/d": ("group:default/team-b", "system:default/s2", "production", "1"),
}
PASS = {"golden-probes": {"pass": 1}, "pss-baseline-privileged": {"pass": 1},
        "golden-replicas": {"pass": 1}}
GOOD = {"delivery": {"change_failure_rate": 0.1}}
BAD = {"delivery": {"change_failure_rate": 0.5}}
PROBES_FAIL = {**PASS, "golden-probes": {"fail": 1}}
# days ago -> service -> (finding counts, facts); the report's day is TODAY.
HISTORY = {
    40: {"component:default/a": (PROBES_FAIL, GOOD), "component:default/b": (PASS, GOOD)},
    7: {"component:default/a": (PROBES_FAIL, GOOD), "component:default/b": (PASS, GOOD),
        "component:default/c": (PASS, BAD)},
    3: {"component:default/a": (PASS, BAD), "component:default/b": (PASS, GOOD),
        "component:default/c": (PASS, BAD)},
    0: {"component:default/a": (PASS, GOOD), "component:default/b": (PROBES_FAIL, GOOD),
        "component:default/c": (PASS, BAD),
        "component:default/d": ({**PROBES_FAIL, "pss-baseline-privileged": {"error": 1}},
                                GOOD)},
}


def _services(refs=SERVICES) -> list[dict]:
    return [{"ref": ref, "name": ref.split("/")[-1], "owner": owner, "system": system,
             "lifecycle": lifecycle, "tier": tier, "type": "service"}
            for ref, (owner, system, lifecycle, tier) in refs.items()]


def _fill(store: Store, history=HISTORY, card=CARD, services=SERVICES) -> None:
    """Services through a real (empty) scan; scorecard rows computed day by day, each with
    the previous day's rules so since/fixed dates carry over as in compute."""
    scan = store.start_scan("all")
    store.write_scan(scan, ScanResult([], [], _services(services), [], "succeeded"))
    tags = {"pss:baseline": ["pss-baseline-privileged"]}
    previous: dict[str, dict] = {}
    for ago in sorted(history, reverse=True):
        day = TODAY - timedelta(days=ago)
        rows = []
        for ref, (counts, facts) in history[ago].items():
            owner, system, *_ = services[ref]
            row = score_service(card, ref, {(ref, p): c for p, c in counts.items()}, tags,
                                facts, previous.get(ref, {}), day, owner=owner, system=system,
                                scan_id=scan)
            previous[ref] = {r["id"]: r for r in row["rules"]}
            rows.append(row)
        store.write_scorecard_results(day, rows)


@pytest.fixture
def ctx(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'pw.db'}")
    _fill(store)
    yield AppContext(store=store, settings=load_settings(None, {}), policies=POLICIES,
                     scorecards=ScorecardSet([CARD]))
    store.close()


@pytest.fixture
def report(ctx):
    return build_report(ctx, today=TODAY)


# --- what the numbers say -------------------------------------------------------------------

def test_adoption_counts_and_shares_per_level_team_and_system(report):
    assert (report.data_day, report.services, report.empty) == (TODAY, 4, False)
    data = json.loads(render_json(report))
    [card] = data["scorecards"]
    by_level = {a["level"]: (a["services"], a["share"], a["at_least"])
                for a in card["adoption"]}
    # a: gold; b: none (probes fail); c: bronze (cfr fails); d: none
    assert by_level == {"none": (2, 0.5, 1.0), "bronze": (1, 0.25, 0.5),
                        "silver": (0, 0.0, 0.25), "gold": (1, 0.25, 0.25)}
    teams = {g["name"]: g["levels"] for g in card["by_team"]}
    assert teams == {"team-a": {"none": 1, "bronze": 0, "silver": 0, "gold": 1},
                     "team-b": {"none": 1, "bronze": 1, "silver": 0, "gold": 0}}
    systems = {g["name"]: g["services"] for g in card["by_system"]}
    assert systems == {"system:default/s1": 2, "system:default/s2": 2}
    # weights probes 2, pss 1, cfr 1, replicas 1: a 5/5, b 3/5, c 4/5, d 2/5 (an error
    # is not a pass)
    assert card["average_score"] == pytest.approx((1 + 0.6 + 0.8 + 0.4) / 4, abs=1e-4)


def test_trends_cover_7_30_and_90_days_with_shares_at_each_level(report):
    [card] = report.cards
    days = {n: [p.day for p in points] for n, points in card.trends.items()}
    assert days == {7: [TODAY - timedelta(days=3), TODAY],
                    30: [TODAY - timedelta(days=n) for n in (7, 3, 0)],
                    90: [TODAY - timedelta(days=n) for n in (40, 7, 3, 0)]}
    week_ago = card.trends[30][0]
    # a none, b gold, c bronze
    assert (week_ago.services, week_ago.at_least) == (
        3, {"bronze": pytest.approx(2 / 3, abs=1e-4), "silver": pytest.approx(1 / 3, abs=1e-4),
            "gold": pytest.approx(1 / 3, abs=1e-4)})
    now = card.trends[7][-1]
    assert now.at_least == {"bronze": 0.5, "silver": 0.25, "gold": 0.25}
    assert now.average_score == pytest.approx(0.7, abs=1e-4)


def test_top_failing_rules_carry_remediation_from_policy_definition_and_fact(report):
    failing = {f.rule.rule: f for f in report.failing}
    assert report.failing[0].rule.rule == "golden-probes"
    probes = failing["golden-probes"]
    assert (probes.rule.services, probes.rule.teams, probes.level) == (2, 2, "bronze")
    assert probes.fix.remediation == POLICIES["golden-probes"].remediation != ""
    assert probes.fix.url == POLICIES["golden-probes"].url
    assert failing["cfr"].fix.remediation == "Ship smaller changes."
    assert failing["cfr"].rule.services == 1
    assert failing["pss-baseline"].rule.services == 1  # d's error counts: unknown is failing
    rendered = render_markdown(report)
    assert "Ship smaller changes." in rendered
    assert POLICIES["golden-probes"].remediation.split()[0] in rendered


def test_movers_compare_with_the_day_a_week_earlier(report):
    assert report.compared_to == TODAY - timedelta(days=7)
    up = [(m.service, m.level_before, m.level_after) for m in report.improvers]
    down = [(m.service, m.level_before, m.level_after) for m in report.regressions]
    assert up == [("component:default/a", "none", "gold")]
    assert down == [("component:default/b", "gold", "none")]  # c unchanged, d is new


def test_movers_use_the_earliest_day_while_history_is_shorter_than_a_week(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'pw.db'}") as store:
        _fill(store, {ago: HISTORY[ago] for ago in (3, 0)})
        ctx = AppContext(store, load_settings(None, {}), POLICIES, ScorecardSet([CARD]))
        report = build_report(ctx, today=TODAY)
        assert report.compared_to == TODAY - timedelta(days=3)
        assert [m.service for m in report.regressions] == ["component:default/b"]
        single = build_report(ctx, today=TODAY - timedelta(days=3))
        assert (single.data_day, single.compared_to) == (TODAY - timedelta(days=3), None)
        assert "Only one day of results so far" in render_markdown(single)


def test_each_team_section_says_what_blocks_the_next_level(report):
    data = json.loads(render_json(report))
    teams = {t["team"]: t for t in data["teams"]}
    assert list(teams) == ["team-a", "team-b"]  # best average score first
    team_a = teams["team-a"]
    assert (team_a["owners"], team_a["service_count"]) == (["group:default/team-a"], 2)
    b = next(s for s in team_a["services"] if s["name"] == "b")
    [line] = b["scorecards"]
    assert (line["level"], line["next_level"]) == ("none", "bronze")
    [blocker] = line["blocking"]
    assert (blocker["rule"], blocker["status"], blocker["since"]) == (
        "golden-probes", "fail", TODAY.isoformat())
    assert blocker["remediation"] == POLICIES["golden-probes"].remediation
    a = next(s for s in team_a["services"] if s["name"] == "a")
    assert (a["scorecards"][0]["level"], a["scorecards"][0]["next_level"]) == ("gold", None)
    assert [r["rule"] for r in team_a["failing_rules"]] == ["golden-probes"]
    team_b = teams["team-b"]
    c = next(s for s in team_b["services"] if s["name"] == "c")
    assert [b["rule"] for b in c["scorecards"][0]["blocking"]] == ["cfr"]
    assert c["scorecards"][0]["blocking"][0]["since"] == (TODAY - timedelta(days=7)).isoformat()
    assert {r["rule"] for r in team_b["failing_rules"]} == {"golden-probes", "pss-baseline",
                                                            "cfr"}


def test_filters_narrow_every_section_and_hide_unowned_targets(ctx):
    report = build_report(ctx, today=TODAY, filter=ServiceFilter(team="team-b"))
    assert report.services == 2
    assert [t.team for t in report.teams] == ["team-b"]
    assert {m.service for m in report.improvers + report.regressions} == set()
    assert report.unowned == []
    data = json.loads(render_json(report))
    assert data["filter"] == {"team": "team-b"}
    by_system = build_report(ctx, today=TODAY,
                             filter=ServiceFilter(system="system:default/s1", tier="3"))
    assert [ln.result.service for ln in by_system.lines] == ["component:default/c"]
    nobody = build_report(ctx, today=TODAY, filter=ServiceFilter(lifecycle="retired"))
    assert (nobody.empty, nobody.services) == (False, 0)
    assert "No services match this report's filter" in render_html(nobody)


# --- the formats ------------------------------------------------------------------------------

def test_json_has_a_stable_documented_shape(report):
    data = json.loads(render_json(report))
    assert data["version"] == VERSION == 1
    assert set(data) == {"version", "generated_at", "today", "data_day", "compared_to",
                         "history", "last_scan", "filter", "empty", "summary", "scorecards",
                         "failing_rules", "improvers", "regressions", "unowned_targets",
                         "teams", "services", "campaigns", "waivers"}
    assert data["history"] == {"from": (TODAY - timedelta(days=40)).isoformat(),
                               "to": TODAY.isoformat(), "days": 4}
    assert data["summary"] == {"services": 4, "scorecards": 1, "average_score": 0.7,
                               "teams": 2, "unowned_targets": 0}
    assert data["last_scan"]["status"] == "succeeded"
    [card] = data["scorecards"]
    assert set(card) == {"id", "title", "description", "golden_path", "levels", "services",
                         "average_score", "adoption", "by_team", "by_system", "trends"}
    assert [t["days"] for t in card["trends"]] == [7, 30, 90]
    assert set(card["trends"][0]["points"][0]) == {"day", "services", "at_least",
                                                   "average_score"}
    assert set(data["failing_rules"][0]) == {
        "scorecard", "scorecard_title", "rule", "title", "level", "kind", "target", "services",
        "teams", "remediation", "url", "policies"}
    assert set(data["improvers"][0]) == {"scorecard", "service", "owner", "team",
                                         "level_before", "level_after", "score_before",
                                         "score_after", "delta"}
    assert set(data["services"][0]) >= {"service", "owner", "team", "system", "scorecard",
                                        "level", "score", "next_level", "failing_rules",
                                        "blocking"}


def test_csv_files_have_one_row_per_fact(report):
    files = render_csv(report)
    assert set(files) == {"services.csv", "adoption.csv", "failing_rules.csv", "trend.csv",
                          "unowned_targets.csv", "campaigns.csv", "waivers.csv"}
    services = list(csv.DictReader(io.StringIO(files["services.csv"])))
    assert list(services[0]) == ["service", "name", "owner", "team", "system", "lifecycle",
                                 "tier", "scorecard", "level", "score", "next_level",
                                 "failing_rules", "blocking_rules", "waived_rules"]
    rows = {r["name"]: r for r in services}
    assert len(services) == 4
    assert (rows["b"]["level"], rows["b"]["score"], rows["b"]["failing_rules"]) == (
        "none", "0.6", "golden-probes")
    assert rows["d"]["failing_rules"] == "golden-probes;pss-baseline"
    assert (rows["a"]["level"], rows["a"]["next_level"]) == ("gold", "")
    adoption_rows = list(csv.DictReader(io.StringIO(files["adoption.csv"])))
    overall = {r["level"]: (r["services"], r["share"]) for r in adoption_rows
               if r["group_by"] == "all"}
    assert overall == {"none": ("2", "0.5"), "bronze": ("1", "0.25"), "silver": ("0", "0.0"),
                       "gold": ("1", "0.25")}
    assert {r["group"] for r in adoption_rows if r["group_by"] == "team"} == {"team-a",
                                                                               "team-b"}
    failing = list(csv.DictReader(io.StringIO(files["failing_rules.csv"])))
    assert (failing[0]["rank"], failing[0]["rule"], failing[0]["services"]) == (
        "1", "golden-probes", "2")
    assert failing[0]["remediation"] == POLICIES["golden-probes"].remediation
    trend = list(csv.DictReader(io.StringIO(files["trend.csv"])))
    assert len(trend) == 4 * 3  # 4 days x 3 levels
    assert files["unowned_targets.csv"].splitlines() == [
        "target,kind,object_kind,name,namespace,source,location,ownership_policy_failed,"
        "failing_policies"]


def test_html_is_one_self_contained_accessible_page(report):
    page = render_html(report)
    doc = lxml.html.fromstring(page)
    assert external_resources(page) == []
    for match in re.finditer(r"""(?:src|href)\s*=\s*["']?https?:""", page, re.I):
        assert page.rfind("<a ", 0, match.start()) > page.rfind(">", 0, match.start())
    assert not doc.xpath("//script | //link | //img | //iframe | //object")
    assert "@import" not in page and "url(" not in page
    assert doc.xpath("string(//html/@lang)") == "en"
    assert doc.xpath("string(//h1)") == "Golden-path adoption report"
    headings = [h.text_content() for h in doc.xpath("//h2")]
    assert headings == ["Summary", "Adoption of each golden path", "Trends",
                        "Rules failing most often", "Biggest improvers and regressions",
                        "Unowned targets", "Teams"]
    tables = doc.xpath("//table")
    assert tables and all(t.xpath("./caption") for t in tables)
    svgs = doc.xpath("//svg")
    assert len(svgs) == 3  # overview, by team, trend
    for svg in svgs:
        assert svg.get("role") == "img"
        title_id, desc_id = svg.get("aria-labelledby").split()
        assert svg.xpath(f"./title[@id='{title_id}']") and svg.xpath(f"./desc[@id='{desc_id}']")
        assert svg.xpath("./desc")[0].text_content().strip()
    trend_desc = doc.xpath("//svg[@aria-labelledby='chart-trend-deploy-title "
                           "chart-trend-deploy-desc']/desc")[0].text_content()
    assert "4 day(s)" in trend_desc and "Services at gold: 50% to 25%" in trend_desc
    links = [a.get("href") for a in doc.xpath("//a[starts-with(@href, 'http')]")]
    assert POLICIES["golden-probes"].url in links
    assert "Ship &lt;safely&gt; &amp; often." in page  # autoescaped
    team_a = doc.xpath("//section[@id='team-team-a']")[0]
    assert "Probes (fail since 2026-11-20)" in team_a.text_content()


def test_markdown_has_every_section_and_tables_that_hold(report):
    text = render_markdown(report)
    for heading in ("# Golden-path adoption report", "## Summary", "## Adoption",
                    "### Deploy path", "## Trends", "## Rules failing most often",
                    "## Biggest improvers and regressions", "### Improvers",
                    "### Regressions", "## Unowned targets", "## Teams", "### team-a",
                    "### team-b"):
        assert re.search(rf"^{re.escape(heading)}$", text, re.M), heading
    assert "| a | team-a | Deploy path | none → gold | 60% → 100% | +40 pts |" in text
    assert "| Last 7 days | 2 (2026-11-17 to 2026-11-20) |" in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line


def test_hostile_names_are_escaped_in_html_and_markdown(tmp_path):
    owner = "group:default/<img src=x onerror=alert(1)>|team"
    services = {"component:default/evil": (owner, "system:default/s1", "production", "1")}
    with Store.open(f"sqlite:///{tmp_path / 'pw.db'}") as store:
        _fill(store, {0: {"component:default/evil": (PROBES_FAIL, GOOD)}},
              services=services)
        report = build_report(AppContext(store, load_settings(None, {}), POLICIES,
                                         ScorecardSet([CARD])), today=TODAY)
    page = render_html(report)
    assert "<img" not in page and "&lt;img src=x" in page
    text = render_markdown(report)
    assert not re.search(r"(?<!\\)<img", text) and "\\|team" in text
    summary_rows = [ln for ln in text.splitlines() if ln.startswith("| Deploy path |")]
    assert summary_rows and all(ln.count(" | ") == 6 for ln in summary_rows)


def test_an_empty_store_gives_a_report_that_says_so(tmp_path):
    with Store.open(f"sqlite:///{tmp_path / 'pw.db'}") as store:
        ctx = AppContext(store, load_settings(None, {}), POLICIES, load_scorecards([]))
        paths = write_report(ctx, tmp_path / "out", ["html", "md", "json", "csv"])
    assert [p.name for p in paths] == [
        "pathwarden-report.html", "pathwarden-report.md", "pathwarden-report.json",
        "services.csv", "adoption.csv", "failing_rules.csv", "trend.csv",
        "unowned_targets.csv", "campaigns.csv", "waivers.csv"]
    html = (tmp_path / "out" / "pathwarden-report.html").read_text()
    doc = lxml.html.fromstring(html)
    assert doc.xpath("string(//section[@id='no-data']/h2)") == "No scorecard results yet"
    assert "## No scorecard results yet" in (tmp_path / "out" / "pathwarden-report.md"
                                             ).read_text()
    data = json.loads((tmp_path / "out" / "pathwarden-report.json").read_text())
    assert (data["empty"], data["data_day"], data["scorecards"]) == (True, None, [])
    assert (tmp_path / "out" / "services.csv").read_text().count("\n") == 1
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(ctx, tmp_path / "out", ["pdf"])
