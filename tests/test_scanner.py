"""`pathwarden scan`: sources -> evaluate -> store as one atomic scan, on SQLite and
PostgreSQL. Manifests directories stand in for clusters here (the cluster source has its
own tests against a stand-in of the Kubernetes API)."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.k8s import build_inventory, make_target
from pathwarden.engine.scanner import Shard, parse_shard, run_scan
from pathwarden.engine.scanner.run import evaluate_once_per_pod
from pathwarden.engine.settings import load_settings
from pathwarden.engine.sources.manifests import read_manifests
from pathwarden.engine.store import ScanBusy, Store
from pathwarden.engine.testing import pod

ESTATE = Path(__file__).resolve().parents[1] / "examples" / "estate" / "manifests"


def config(tmp_path: Path, url: str, **scan: object) -> Path:
    lines = [f"  {k}: {v!r}" if not isinstance(v, list) else f"  {k}: {v}"
             for k, v in scan.items()]
    path = tmp_path / "pathwarden.yaml"
    path.write_text("store:\n  url: " + url + "\nscan:\n" + "\n".join(lines) + "\n"
                    "policies:\n  parameters:\n    golden-allowed-registries:\n"
                    "      registries: [registry.acme.example/]\n", encoding="utf-8")
    return path


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    copy = tmp_path / "estate"
    shutil.copytree(ESTATE, copy)
    return copy


def _scan(cfg: Path, **kw):
    settings = load_settings(cfg, {})
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    with Store.open(settings.store.url) as store:
        return run_scan(settings, policy_set, store, **kw), settings


def test_a_scan_stores_the_same_findings_eval_computes(tmp_path, estate, database_url):
    cfg = config(tmp_path, database_url, manifests=[str(estate)])
    outcome, settings = _scan(cfg)
    assert outcome.status == "succeeded"
    found = read_manifests([estate])
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    policy_set = policy_set.with_inventory(build_inventory([o for o, _ in found.objects]))
    expected = sorted((f.target.id, f.policy_id, f.status.value)
                      for f in evaluate(found.targets(), policy_set))
    with Store.open(database_url) as store:
        stored = sorted((t.target_id, f.policy_id, f.status)
                        for f, t in store.current_findings())
        assert stored == expected
        scan = store.scans()[0]
        assert (scan.status, scan.counts["targets"], scan.counts["findings"]) == (
            "succeeded", len(found.objects), len(expected))
        failing = store.current_findings(status="fail")
        assert failing and all(f.violations for f, _ in failing)
        assert all(f.violations is None for f, _ in store.current_findings(status="pass"))


def test_a_missing_source_makes_the_scan_partial_and_the_rest_is_stored(
        tmp_path, estate, database_url, capsys):
    (estate / "broken.yaml").write_text("kind: Pod\nmetadata: [\n", encoding="utf-8")
    cfg = config(tmp_path, database_url, manifests=[str(estate), str(tmp_path / "gone")])
    assert main(["scan", "--config", str(cfg)]) == 1
    captured = capsys.readouterr()
    assert "partial" in captured.out
    assert f"error: manifests:{tmp_path / 'gone'}: manifests {tmp_path / 'gone'}: no such " \
        "file or directory" in captured.err
    assert f"{estate / 'broken.yaml'}:3: invalid YAML" in captured.err
    with Store.open(database_url) as store:
        assert store.scans()[0].status == "partial"
        assert len({t.target_id for _, t in store.current_findings()}) > 3


def test_a_second_scan_of_the_same_scope_is_refused_while_one_runs(
        tmp_path, estate, database_url, capsys):
    cfg = config(tmp_path, database_url, manifests=[str(estate)])
    with Store.open(database_url) as store:
        running = store.start_scan("all")
        with pytest.raises(ScanBusy, match=f"scan {running} of scope 'all'"):
            store.start_scan("all")
        other_shard = store.start_scan("all", shard=1, shards=2)
        assert other_shard != running
    assert main(["scan", "--config", str(cfg)]) == 3
    assert f"scan {running} of scope 'all'" in capsys.readouterr().err


def test_results_appear_only_when_the_scan_ends(tmp_path, estate, database_url):
    cfg = config(tmp_path, database_url, manifests=[str(estate)])
    first, _ = _scan(cfg)
    with Store.open(database_url) as store:
        before = sorted((t.target_id, f.policy_id, f.scan_id)
                        for f, t in store.current_findings())
        running = store.start_scan("all")
        assert sorted((t.target_id, f.policy_id, f.scan_id)
                      for f, t in store.current_findings()) == before
        assert {scan for *_, scan in before} == {first.scan_id}
    settings = load_settings(cfg, {})
    with Store.open(database_url) as store:
        run_scan(settings, load_policies().with_parameters(
            dict(settings.policies.parameters)), store, scan_id=running)
        assert {f.scan_id for f, _ in store.current_findings()} == {running}


def test_a_failing_scan_is_recorded_as_failed(tmp_path, database_url):
    cfg = config(tmp_path, database_url, manifests=[str(tmp_path / "nothing-here")])
    outcome, _ = _scan(cfg)
    assert outcome.status == "failed"
    with Store.open(database_url) as store:
        assert store.scans()[0].status == "failed"
        assert store.current_findings() == []


def test_shards_cover_every_target_exactly_once(tmp_path, estate, database_url):
    cfg = config(tmp_path, database_url, manifests=[str(estate)])
    seen: list[str] = []
    for index in range(3):
        outcome, _ = _scan(cfg, shard=Shard(index, 3))
        seen.extend(outcome.target_ids)
    everything = {t.ref.id for t in read_manifests([estate]).targets()}
    assert sorted(seen) == sorted(everything)
    with Store.open(database_url) as store:
        judged = {t.target_id for _, t in store.current_findings()}
        assert judged and judged <= everything
        assert sorted((s.shard, s.shards) for s in store.scans()) == [(0, 3), (1, 3), (2, 3)]


@pytest.mark.parametrize(("text", "error"), [("3/3", "need 0 <= I < N"), ("x", "expected I/N"),
                                             ("1", "expected I/N")])
def test_bad_shards_are_refused(text, error):
    with pytest.raises(Exception, match=error):
        parse_shard(text)


def test_old_scans_are_pruned_while_daily_history_and_the_latest_stay(
        tmp_path, estate, database_url):
    cfg = config(tmp_path, database_url, manifests=[str(estate)], retention_days=1)
    first, _ = _scan(cfg)
    with Store.open(database_url) as store, store._begin() as conn:
        from pathwarden.engine.store.scans import scans_table
        conn.execute(scans_table.update().where(scans_table.c.id == first.scan_id).values(
            started_at=datetime.now(UTC) - timedelta(days=3)))
    second, _ = _scan(cfg)
    with Store.open(database_url) as store:
        assert [s.id for s in store.scans()] == [second.scan_id]
        days = store.finding_days()
        assert days and all(d.scope == "all#0/1" for d in days)
        assert sum(d.counts.get("fail", 0) for d in days) == sum(
            1 for f in second.findings if f.status.value == "fail")


def test_pods_of_one_controller_are_judged_once(tmp_path, write):
    calls = tmp_path / "calls.txt"
    write("policies/count.py", f"""
        from pathwarden.engine.rules import rule

        @rule(id="count-calls", kinds=["Pod"])
        def count(doc):
            with open({str(calls)!r}, "a") as out:
                out.write(doc["review"]["object"]["metadata"]["name"] + "\\n")
            if doc["review"]["object"]["spec"].get("hostNetwork"):
                yield "host network"
    """)
    policy_set = load_policies([tmp_path / "policies"], builtin=False)
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9",
             "uid": "u-1", "controller": True}
    pods = []
    for i in range(5):
        p = pod({"hostNetwork": True}, name=f"web-7d9-{i}")
        p["metadata"]["ownerReferences"] = [owner]
        pods.append(p)
    loner = pod({"hostNetwork": True}, name="loner")
    findings = list(evaluate_once_per_pod([make_target(p) for p in [*pods, loner]],
                                          policy_set))
    assert calls.read_text().split() == ["web-7d9-0", "loner"]
    assert [f.target.name for f in findings] == [*(f"web-7d9-{i}" for i in range(5)), "loner"]
    assert all(f.messages == ["host network"] for f in findings)


def test_the_cli_prints_a_summary(tmp_path, estate, database_url, capsys):
    cfg = config(tmp_path, database_url, manifests=[str(estate)])
    assert main(["scan", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scan ") and ": succeeded; " in out and "findings (" in out


def test_an_unreachable_store_is_exit_2(tmp_path, estate, capsys):
    cfg = config(tmp_path, "postgresql://postgres@127.0.0.1:1/x", manifests=[str(estate)])
    assert main(["scan", "--config", str(cfg)]) == 2
    assert "error: database postgresql://postgres@127.0.0.1:1/x" in capsys.readouterr().err


def test_scan_settings_are_validated(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""
        scan:
          schedule: every night
    """), encoding="utf-8")
    with pytest.raises(Exception, match="not a cron expression"):
        load_settings(bad, {})
    bad.write_text("scan:\n  clusters:\n    - kubeconfig: x\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"scan.clusters\[0\] needs a name or a context"):
        load_settings(bad, {})
    bad.write_text("scan:\n  retention: 3\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"unknown key\(s\) \['retention'\] in scan"):
        load_settings(bad, {})
