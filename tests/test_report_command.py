"""`pathwarden report` end to end: a real scan of the example estate, then the command's
files, paths, exit codes and messages."""


from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import lxml.html
import pytest
from pathwarden.engine import load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.compute import after_scan
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.definitions import load_scorecards
from pathwarden.scorecards.report import (
    build_report,
    render_html,
    render_json,
)
from pathwarden.scorecards.views import adoption

from .report_support import external_resources

ESTATE = Path(__file__).resolve().parents[1] / "examples" / "estate"
TODAY = date(2026, 11, 20)


# --- end to end: a real scan of the example estate -----------------------------------------

def _config(tmp_path: Path, url: str, manifests: Path, extra: str = "") -> Path:
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{url}"}}
policies:
  parameters: {{golden-allowed-registries: {{registries: [registry.acme.example/]}}}}
scan:
  catalog: [{ESTATE / 'catalog'}]
  manifests: [{manifests}]
{extra}""", encoding="utf-8")
    return cfg


def _scan_days(cfg: Path, manifests: Path) -> None:
    """A week ago the cart ran privileged; today it does not."""
    settings = load_settings(cfg, {})
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    cart = manifests / "shop" / "cart.yaml"
    fixed = cart.read_text(encoding="utf-8")
    assert "allowPrivilegeEscalation: false" in fixed
    with Store.open(settings.store.url) as store:
        for ago, text in ((7, fixed.replace("allowPrivilegeEscalation: false",
                                            "privileged: true")), (0, fixed)):
            cart.write_text(text, encoding="utf-8")
            outcome = run_scan(settings, policy_set, store)
            assert outcome.status == "succeeded"
            after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id,
                       day=TODAY - timedelta(days=ago))


@pytest.fixture
def scanned(tmp_path, database_url):
    manifests = tmp_path / "manifests"
    shutil.copytree(ESTATE / "manifests", manifests)
    cfg = _config(tmp_path, database_url, manifests)
    _scan_days(cfg, manifests)
    return cfg


def test_a_scanned_estate_makes_a_report_a_lead_can_act_on(scanned, database_url):
    settings = load_settings(scanned, {})
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    cards = load_scorecards([])
    with Store.open(database_url) as store:
        ctx = AppContext(store, settings, {p.id: p for p in policy_set.policies}, cards)
        report = build_report(ctx, today=TODAY)
        stored = store.scorecard_results(day=TODAY)
    data = json.loads(render_json(report))
    assert (data["data_day"], data["compared_to"]) == (TODAY.isoformat(),
                                                       (TODAY - timedelta(days=7)).isoformat())
    # The adoption is views.adoption over the stored results, card by card.
    for card, expected in zip(data["scorecards"], adoption(stored, cards.scorecards),
                              strict=True):
        assert card["services"] == expected.services
        assert {a["level"]: a["services"] for a in card["adoption"]} == {
            n: expected.levels.get(n, 0) for n in expected.level_names}
        assert sum(a["share"] for a in card["adoption"]) == pytest.approx(1, abs=1e-3) \
            or card["services"] == 0
    # The cart's fix shows as an improvement on secure workloads.
    assert {"scorecard": "secure-workloads", "service": "component:default/shop-cart",
            "level_before": "none"}.items() <= next(
        m for m in data["improvers"] if m["service"] == "component:default/shop-cart"
        and m["scorecard"] == "secure-workloads").items()
    # Tag rules name the failing policies of the tag, each with its remediation.
    baseline = next(f for f in data["failing_rules"] if f["rule"] == "pss-baseline")
    assert baseline["kind"] == "tag" and baseline["policies"]
    for policy in baseline["policies"]:
        assert policy["id"].startswith("pss-baseline-")
        assert policy["remediation"] == ctx.policies[policy["id"]].remediation
    probes = next(f for f in data["failing_rules"] if f["rule"] == "golden-probes")
    assert probes["remediation"] == ctx.policies["golden-probes"].remediation
    # The legacy CronJob belongs to nobody, and the ownership policy says so.
    unowned = {u["target"]: u for u in data["unowned_targets"]}
    export = unowned["k8s:legacy/batch/v1/CronJob/nightly-export"]
    assert export["ownership_policy_failed"] is True
    assert "catalog-workload-owned" in export["failing_policies"]
    assert data["unowned_targets"][0]["ownership_policy_failed"] is True  # flagged first
    # The shop team's section shows its services and what keeps them from the next level.
    shop = next(t for t in data["teams"] if t["team"] == "team-shop")
    web = next(s for s in shop["services"] if s["name"] == "shop-web")
    secure = next(c for c in web["scorecards"] if c["scorecard"] == "secure-workloads")
    assert (secure["level"], secure["next_level"], secure["blocking"]) == ("gold", None, [])
    payments = next(t for t in data["teams"] if t["team"] == "team-payments")
    api = next(s for s in payments["services"] if s["name"] == "payments-api")
    secure = next(c for c in api["scorecards"] if c["scorecard"] == "secure-workloads")
    assert secure["next_level"] == "bronze"
    assert "pss-baseline" in [b["rule"] for b in secure["blocking"]]
    page = render_html(report)
    assert external_resources(page) == [] and "<svg" in page
    lxml.html.fromstring(page)


def test_the_report_command_writes_the_files_and_prints_their_paths(
        scanned, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["report", "--config", str(scanned), "--out", str(out), "-f", "html",
                 "--format", "json", "-f", "md", "-f", "csv"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = captured.out.split()
    assert printed[:3] == [str(out / "pathwarden-report.html"),
                           str(out / "pathwarden-report.json"),
                           str(out / "pathwarden-report.md")]
    assert str(out / "services.csv") in printed
    assert all(Path(p).is_file() for p in printed)
    # Default: HTML only, into ./report; filters by team and by system name.
    assert main(["report", "--config", str(scanned), "--out", str(tmp_path / "team"),
                 "--team", "team-shop", "--system", "shop", "-f", "json"]) == 0
    data = json.loads((tmp_path / "team" / "pathwarden-report.json").read_text())
    assert data["filter"] == {"team": "team-shop", "system": "system:default/shop"}
    assert {t["team"] for t in data["teams"]} == {"team-shop"}
    assert data["unowned_targets"] == []


def test_the_report_command_on_an_empty_store_writes_a_report_that_says_so(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["report", "--database-url", url]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(Path("report") / "pathwarden-report.html")
    assert "no scorecard results yet" in captured.err
    assert "No scorecard results yet" in (tmp_path / "report" / "pathwarden-report.html"
                                          ).read_text()


def test_the_report_command_exits_2_when_config_store_or_output_is_unusable(
        tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: {colour: red}\n", encoding="utf-8")
    assert main(["report", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    unreachable = "postgresql://postgres@127.0.0.1:1/nothing"
    assert main(["report", "--database-url", unreachable, "--out", str(tmp_path / "o")]) == 2
    assert "error: database postgresql://postgres@127.0.0.1:1/nothing: cannot connect" in (
        capsys.readouterr().err)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'pw.db'}"
    assert main(["report", "--database-url", url, "--out", str(blocker / "sub")]) == 2
    assert f"error: cannot write the report to {blocker / 'sub'}" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--format", "pdf"])
    assert exc.value.code == 2


def test_scorecard_definition_problems_are_printed_and_the_rest_reported(tmp_path, capsys):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "broken.yaml").write_text("id: x\nlevels: []\n", encoding="utf-8")
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"store: {{url: 'sqlite:///{tmp_path / 'pw.db'}'}}\n"
                   f"scorecards: {{dirs: [{cards}]}}\n", encoding="utf-8")
    assert main(["report", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert f"error: {cards / 'broken.yaml'}: scorecard x: levels must be a non-empty list" \
        in err
