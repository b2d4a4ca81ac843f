"""Gatekeeper constraints in the audit: `run_scan` lists a cluster (the real `kubernetes`
client against the loopback stand-in of the Kubernetes API), builds `data.inventory` from
what it listed, and stores one finding per constraint and object."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pathwarden.engine import load_policies
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import Store

pytest_plugins = ("tests.standins.kube_api",)

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "examples" / "gatekeeper" / "policies"

PROD_ONLY = """\
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: prod-pods-have-a-tier
spec:
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
    namespaceSelector:
      matchLabels: {env: prod}
  parameters:
    labels: [{key: tier}]
"""


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": labels}}


def ingress(name: str, ns: str, *hosts: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": h} for h in hosts]}}


def pod(name: str, ns: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.acme.example/a:1"}]}}


def test_a_cluster_scan_judges_constraints_with_the_clusters_inventory(
        tmp_path, kube_api, kubeconfig):
    kube_api.add(
        namespace("shop", env="prod"), namespace("lab", env="dev"),
        ingress("storefront", "shop", "shop.acme.example"),
        ingress("copy", "lab", "www.acme.example", "shop.acme.example"),
        ingress("docs", "lab", "docs.acme.example"),
        pod("web", "shop"), pod("api", "shop", tier="backend"), pod("tool", "lab"),
    )
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "prod-only.yaml").write_text(PROD_ONLY, encoding="utf-8")
    config = kubeconfig(kube_api.context("prod"))
    url = f"sqlite:///{tmp_path / 'pathwarden.db'}"
    (tmp_path / "pathwarden.yaml").write_text(f"""
store: {{url: "{url}"}}
scan:
  clusters:
    - {{name: prod, kubeconfig: {config}, context: prod}}
""", encoding="utf-8")
    settings = load_settings(tmp_path / "pathwarden.yaml", {})
    policy_set = load_policies([policies], builtin=False)

    with Store.open(url) as store:
        outcome = run_scan(settings, policy_set, store)
        assert outcome.status == "succeeded", outcome.errors
        rows = store.current_findings()

    results = {(f.policy_id, t.namespace, t.name):
               (f.status, [v["msg"] for v in f.violations or []]) for f, t in rows}
    unique = "k8suniqueingresshost.unique-ingress-host"
    assert results[unique, "shop", "storefront"] == (
        "fail", ["host shop.acme.example is already used by Ingress lab/copy"])
    assert results[unique, "lab", "copy"] == (
        "fail", ["host shop.acme.example is already used by Ingress shop/storefront"])
    assert results[unique, "lab", "docs"] == ("pass", [])
    # namespaceSelector: judged against the Namespace objects listed from the cluster.
    prod = "k8srequiredlabels.prod-pods-have-a-tier"
    assert results[prod, "shop", "web"] == ("fail", ['missing required labels: {"tier"}'])
    assert results[prod, "shop", "api"] == ("pass", [])
    assert results[prod, "lab", "tool"] == ("pass", [])
    # A constraint applies only to the kinds it matches: no Pod finding for Ingress rules.
    assert (unique, "shop", "web") not in results
