"""A scan of live clusters end to end: the real `kubernetes` client against the loopback
stand-in of the Kubernetes API, the catalog mapping, the store. One cluster is down."""

from __future__ import annotations

import json

from pathwarden.engine import load_policies
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import Store
from pathwarden.engine.testing import pod, workload

pytest_plugins = ("tests.standins.kube_api",)

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop-web
  annotations:
    backstage.io/kubernetes-id: shop-web
spec: {type: service, lifecycle: production, owner: group:default/team-shop}
"""


def test_a_cluster_scan_maps_services_reports_unowned_and_never_stores_secret_values(
        tmp_path, kube_api, kubeconfig, unreachable, database_url):
    owned = workload("Deployment", pod(name="web", namespace="shop",
                                        labels={"backstage.io/kubernetes-id": "shop-web",
                                                "app.kubernetes.io/name": "web"}),
                     replicas=2)
    orphan = workload("Deployment", pod(name="orphan", namespace="shop"))
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "db", "namespace": "shop"},
              "data": {"password": "aHVudGVyMg=="}}
    kube_api.add(owned, orphan, secret,
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    config = kubeconfig(kube_api.context("prod"), unreachable("dr"))
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "catalog-info.yaml").write_text(CATALOG, encoding="utf-8")
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{database_url}"}}
scan:
  catalog: [catalog]
  clusters:
    - {{name: prod, kubeconfig: {config}, context: prod}}
    - {{name: dr, kubeconfig: {config}, context: dr}}
""", encoding="utf-8")
    settings = load_settings(cfg, {})
    with Store.open(database_url) as store:
        outcome = run_scan(settings, load_policies(), store)
        assert outcome.status == "partial"
        [error] = [e for e in outcome.errors if "error" in e]
        assert error["source"] == "cluster:dr" and "cluster dr (http://127.0.0.1:" in \
            error["error"]
        rows = store.current_findings()
        by_target = {}
        for finding, target in rows:
            by_target.setdefault(target.name, set()).add((finding.policy_id, finding.status,
                                                          finding.service))
        assert ("golden-replicas", "pass", "component:default/shop-web") in by_target["web"]
        assert ("catalog-workload-owned", "fail", None) in by_target["orphan"]
        assert ("catalog-workload-owned", "pass", "component:default/shop-web") in \
            by_target["web"]
        assert [t.ref.name for t in outcome.unowned if t.ref.object_kind == "Deployment"] == [
            "orphan"]
        dump = json.dumps([[f.model_dump(mode="json"), t.model_dump(mode="json")]
                           for f, t in rows])
        assert "aHVudGVyMg==" not in dump
        scans = store.scans()
        assert scans[0].counts["unowned"] >= 1
        assert "aHVudGVyMg==" not in json.dumps(scans[0].model_dump(mode="json"))
