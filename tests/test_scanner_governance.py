"""Waivers and campaigns in the audit: stored as `waived` with the waiver's id, the
campaign's enforcement stored with each finding, file waivers in the audit trail, and a
broken file reported without losing the rest. SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathwarden.engine.cli.main import main
from pathwarden.engine.store import Store

ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime.now(UTC).date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def setup(tmp_path: Path, url: str, *, annotation_policies: str = "[]") -> tuple[Path, Path]:
    org = tmp_path / "org"
    org.mkdir()
    config = tmp_path / "pathwarden.yaml"
    config.write_text(textwrap.dedent(f"""\
        store: {{url: "{url}"}}
        policies:
          dirs: [org]
          parameters:
            golden-allowed-registries: {{registries: [registry.acme.example/]}}
        scan:
          manifests: [{ROOT}/examples/estate/manifests]
          catalog: [{ROOT}/examples/estate/catalog]
        governance:
          waivers: {{annotation_policies: {annotation_policies}}}
        """), encoding="utf-8")
    return config, org


def waiver(name: str, *, policies: str = "[golden-replicas]", cover: str =
           "services: [shop-cart]", expires: str | None = None, reason: str = "load test "
           "pending") -> str:
    return textwrap.dedent(f"""\
        apiVersion: pathwarden.dev/v1
        kind: Waiver
        metadata: {{name: {name}}}
        spec:
          policies: {policies}
          {cover}
          reason: {reason}
          requestedBy: dev@acme.example
          approvedBy: lead@acme.example
          expires: {expires or day(30)}
        """)


def campaign(start: int, warn: int, deny: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: pathwarden.dev/v1
        kind: Campaign
        metadata: {{name: probes-everywhere}}
        spec:
          owner: group:default/platform
          goal: every production service has liveness and readiness probes
          policies: [golden-probes]
          start: {day(start)}
          deadline: {day(deny)}
          schedule:
            - {{enforcement: audit, from: {day(start)}}}
            - {{enforcement: warn, from: {day(warn)}}}
            - {{enforcement: deny, from: {day(deny)}}}
        """)


def findings(url: str, policy: str) -> dict[str, tuple[str, str, str | None]]:
    with Store.open(url) as store:
        return {t.target_id: (f.status, f.enforcement, f.waiver)
                for f, t in store.current_findings(policy=policy)}


CART = "k8s:shop-prod/apps/v1/Deployment/cart"


def test_a_waived_failure_is_stored_as_waived_with_the_waiver_id(tmp_path, database_url,
                                                                   capsys):
    config, org = setup(tmp_path, database_url)
    (org / "waivers.yaml").write_text(waiver("cart-replicas"), encoding="utf-8")
    assert main(["scan", "--config", str(config)]) == 0
    stored = findings(database_url, "golden-replicas")
    assert stored[CART] == ("waived", "deny", "cart-replicas")
    # other services' failures of the same policy are not covered
    recommendations = stored["k8s:shop-prod/apps/v1/Deployment/recommendations"]
    assert recommendations == ("fail", "deny", None)
    with Store.open(database_url) as store:
        assert store.waiver_usage() == {"cart-replicas": 1}
        [event] = store.waiver_events(waiver_id="cart-replicas")
        assert (event.action, event.actor) == ("created", f"file:{org / 'waivers.yaml'}:1")
        assert event.detail["spec"]["reason"] == "load test pending"


def test_an_expired_waiver_no_longer_applies(tmp_path, database_url):
    config, org = setup(tmp_path, database_url)
    (org / "waivers.yaml").write_text(waiver("old", expires=day(-1)), encoding="utf-8")
    assert main(["scan", "--config", str(config)]) == 0
    assert findings(database_url, "golden-replicas")[CART] == ("fail", "deny", None)


def test_the_campaign_phase_sets_the_stored_enforcement(tmp_path, database_url):
    config, org = setup(tmp_path, database_url)
    (org / "campaign.yaml").write_text(campaign(-20, -10, 10), encoding="utf-8")
    main(["scan", "--config", str(config)])
    assert findings(database_url, "golden-probes")[CART] == ("fail", "warn", None)
    (org / "campaign.yaml").write_text(campaign(-20, -10, -1), encoding="utf-8")
    main(["scan", "--config", str(config)])
    assert findings(database_url, "golden-probes")[CART] == ("fail", "deny", None)
    (org / "campaign.yaml").write_text(campaign(-20, 5, 10), encoding="utf-8")
    main(["scan", "--config", str(config)])
    assert findings(database_url, "golden-probes")[CART] == ("fail", "audit", None)


def test_file_waivers_are_kept_in_the_audit_trail_across_edits(tmp_path, database_url):
    config, org = setup(tmp_path, database_url)
    path = org / "waivers.yaml"
    path.write_text(waiver("cart-replicas"), encoding="utf-8")
    main(["scan", "--config", str(config)])
    path.write_text(waiver("cart-replicas", reason="load test in January"), encoding="utf-8")
    main(["scan", "--config", str(config)])
    main(["scan", "--config", str(config)])  # unchanged: no event
    path.unlink()
    main(["scan", "--config", str(config)])
    with Store.open(database_url) as store:
        events = list(reversed(store.waiver_events(waiver_id="cart-replicas")))
        assert [e.action for e in events] == ["created", "changed", "removed"]
        assert events[1].detail["before"]["reason"] == "load test pending"
        assert events[1].detail["after"]["reason"] == "load test in January"
        assert store.waiver_row("cart-replicas").state == "removed"
    assert findings(database_url, "golden-replicas")[CART][0] == "fail"


def test_a_broken_waiver_file_makes_the_scan_partial_and_the_others_still_apply(
        tmp_path, database_url, capsys):
    config, org = setup(tmp_path, database_url)
    (org / "good.yaml").write_text(waiver("cart-replicas"), encoding="utf-8")
    (org / "bad.yaml").write_text(waiver("too-long", expires=day(400)), encoding="utf-8")
    assert main(["scan", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{org / 'bad.yaml'}:1" in err
    assert "waiver too-long: expires" in err and "more than the allowed 90 days" in err
    assert findings(database_url, "golden-replicas")[CART][2] == "cart-replicas"


def test_workload_annotations_waive_only_what_configuration_opens(tmp_path, database_url):
    estate = tmp_path / "estate"
    estate.mkdir()
    (estate / "batch.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: batch
          namespace: jobs
          annotations:
            pathwarden.dev/waive: golden-probes, golden-resources
            pathwarden.dev/waive-reason: queue worker without an HTTP endpoint
            pathwarden.dev/waive-expires: "{day(20)}"
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: batch}}}}
          template:
            metadata: {{labels: {{app: batch}}}}
            spec:
              containers: [{{name: w, image: registry.acme.example/batch:1.0}}]
        """), encoding="utf-8")
    target = "k8s:jobs/apps/v1/Deployment/batch"
    for case, (allowed, expected) in enumerate((("[]", "fail"),
                                                ("[golden-probes]", "waived"))):
        (tmp_path / str(case)).mkdir()
        config, _ = setup(tmp_path / str(case), database_url, annotation_policies=allowed)
        text = config.read_text(encoding="utf-8").replace(
            f"{ROOT}/examples/estate/manifests", str(estate))
        config.write_text(text, encoding="utf-8")
        main(["scan", "--config", str(config)])
        assert findings(database_url, "golden-probes")[target][0] == expected
        # resources are not opened to self-service, whatever the annotation says
        assert findings(database_url, "golden-resources")[target][0] == "fail"


def test_pathwarden_report_lists_the_waivers_and_campaigns(tmp_path, database_url):
    import json

    config, org = setup(tmp_path, database_url)
    (org / "waivers.yaml").write_text(waiver("cart-replicas", expires=day(5)),
                                      encoding="utf-8")
    (org / "campaign.yaml").write_text(campaign(-20, -10, 10), encoding="utf-8")
    assert main(["scan", "--config", str(config)]) == 0
    out = tmp_path / "report"
    assert main(["report", "--config", str(config), "--format", "json", "--out",
                 str(out)]) == 0
    report = json.loads((out / "pathwarden-report.json").read_text(encoding="utf-8"))
    assert [w["id"] for w in report["waivers"]["expiring"]] == ["cart-replicas"]
    [progress] = report["campaigns"]
    assert (progress["id"], progress["state"], progress["days_left"]) == (
        "probes-everywhere", "running", 10)
    assert progress["phase"] == {"enforcement": "warn", "from": day(-10)}
