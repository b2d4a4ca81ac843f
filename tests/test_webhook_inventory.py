"""Referential policies at admission: the webhook syncs `data.inventory` from a cluster.

The relisting sync (`watch: false`; watching is tested in test_webhook_inventory_watch.py):
the real webhook over HTTPS, the real `kubernetes` client in the real cluster source,
against the loopback stand-in of the Kubernetes API (tests/standins/kube_api.py).
Resyncs are triggered with `poke()` (what SIGHUP does) and awaited through `/readyz`,
never by sleeping.
"""

from __future__ import annotations

import copy
import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.inventory_config import DEFAULT_INVENTORY_KINDS, InventorySettings
from pathwarden.engine.settings import load_settings
from pathwarden.engine.sources.cluster import METADATA_ONLY

from .webhook_support import (
    Running,
    deployment,
    make_certs,
    pod,
    review,
    running_webhook,
    wait_for,
)

if TYPE_CHECKING:  # the module itself is loaded as a plugin (importing it first would
    from .standins.kube_api import KubeApiStandIn  # keep pytest from rewriting it)

pytest_plugins = ("tests.standins.kube_api",)  # kube_api, kubeconfig, unreachable

ROOT = Path(__file__).resolve().parent.parent
GATEKEEPER = ROOT / "examples" / "gatekeeper" / "policies"
PDB_POLICY = "golden-pod-disruption-budget"
UNIQUE_HOST = "k8suniqueingresshost.unique-ingress-host"
PROD_OWNER = "k8srequiredlabels.prod-workloads-have-an-owner"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name,
                                                  **labels}}}


def budget(name: str, ns: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": {"app.kubernetes.io/name": app}}}}


def ingress(name: str, ns: str, *hosts: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": h} for h in hosts]}}


def ingress_review(obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """webhook_support knows no Ingress resource: borrow a ConfigMap's envelope."""
    body = review({**obj, "kind": "ConfigMap"}, **kwargs)
    request = body["request"]
    request["object"] = obj
    if request.get("oldObject"):
        request["oldObject"] = {**request["oldObject"], "kind": "Ingress"}
    gvk = {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"}
    request["kind"] = request["requestKind"] = gvk
    request["resource"] = request["requestResource"] = {
        "group": "networking.k8s.io", "version": "v1", "resource": "ingresses"}
    return body


def readyz(webhook: Running) -> dict[str, Any]:
    return webhook.client.get("/readyz").json()


def resync(webhook: Running) -> dict[str, Any]:
    """Relist now and wait until that list is over; returns the inventory status."""
    sync = webhook.server.inventory
    assert sync is not None
    attempts = sync.status.attempts
    sync.poke()
    wait_for(lambda: sync.status.attempts > attempts, "a relist")
    return readyz(webhook)["inventory"]


def synced(webhook: Running) -> dict[str, Any]:
    """Wait for the first list that ends (either way); the status after it."""
    wait_for(lambda: readyz(webhook)["inventory"]["attempts"] > 0, "the first list")
    return readyz(webhook)["inventory"]


def replicated(name: str = "web", ns: str = "shop") -> dict[str, Any]:
    return deployment(pod(name, ns), replicas=2)


def pdb_warnings(answer: dict[str, Any]) -> list[str]:
    return [w for w in answer.get("warnings", []) if w.startswith(f"[{PDB_POLICY}]")]


@pytest.fixture
def cluster(kube_api: KubeApiStandIn, kubeconfig: Any) -> Iterator[InventorySettings]:
    """The stand-in as the synced cluster, with two namespaces."""
    kube_api.add(namespace("shop", tier="prod"), namespace("lab"))
    path = kubeconfig(kube_api.context("prod"))
    yield InventorySettings(kubeconfig=path, context="prod", watch=False, resync_seconds=3600)


# --- the built-in PodDisruptionBudget rule ---

def test_the_pdb_rule_judges_against_the_clusters_budgets(certs, kube_api, cluster):
    with running_webhook(certs, inventory=cluster) as webhook:
        status = synced(webhook)
        assert status["last_error"] is None and status["objects"] == 2
        assert status["cluster"] == "prod" and status["synced_at"]
        ready = readyz(webhook)
        assert ready["ready"] is True and ready["referential_policies_held_back"] == []

        answer = webhook.admit(review(replicated(), kind="Deployment"))
        assert answer["allowed"] is True
        assert pdb_warnings(answer) == [
            f"[{PDB_POLICY}] Deployment with 2 replicas has no PodDisruptionBudget selecting "
            "its pods in namespace shop"]

        kube_api.add(budget("web", "shop", "web"))
        assert resync(webhook)["objects"] == 3
        assert pdb_warnings(webhook.admit(review(replicated(), kind="Deployment"))) == []
        # A budget in another namespace does not count.
        assert pdb_warnings(webhook.admit(review(replicated(ns="lab"), kind="Deployment")))

        metrics = webhook.metrics()
        assert 'pathwarden_webhook_inventory_syncs_total{result="success"} 2.0' in metrics
        assert "pathwarden_webhook_inventory_objects 3.0" in metrics
        assert "pathwarden_webhook_referential_policies_held_back 0.0" in metrics
        assert f'pathwarden_webhook_policy_decisions_total{{policy="{PDB_POLICY}",' \
               'result="warn"}' in metrics


def test_an_enforcement_override_makes_the_referential_rule_deny(certs, cluster):
    with running_webhook(certs, inventory=cluster,
                         enforcement={PDB_POLICY: "deny"}) as webhook:
        assert synced(webhook)["last_error"] is None
        answer = webhook.admit(review(replicated(), kind="Deployment"))
        assert answer["allowed"] is False
        assert f"[{PDB_POLICY}] Deployment with 2 replicas has no PodDisruptionBudget" in \
            answer["status"]["message"]
        single = deployment(pod("one", "shop"), replicas=1)
        assert webhook.admit(review(single, kind="Deployment"))["allowed"] is True


# --- failures: never a 500, never a judgement on a hole ---

def test_an_unreachable_cluster_holds_referential_policies_back(certs, kubeconfig,
                                                                 unreachable):
    settings = InventorySettings(name="dr", kubeconfig=kubeconfig(unreachable("dr")),
                                 context="dr", watch=False, resync_seconds=3600)
    with running_webhook(certs, inventory=settings) as webhook:
        status = synced(webhook)
        assert status["synced_at"] is None and status["objects"] == 0
        assert status["last_error"].startswith("cluster dr (http://127.0.0.1:")
        assert "cannot connect" in status["last_error"]
        assert readyz(webhook)["ready"] is True
        assert readyz(webhook)["referential_policies_held_back"] == [PDB_POLICY]

        answer = webhook.admit(review(replicated(), kind="Deployment"))
        assert answer["allowed"] is True and pdb_warnings(answer) == []
        privileged = pod("root", securityContext={"privileged": True})
        denied = webhook.admit(review(privileged))
        assert denied["allowed"] is False
        assert "[pss-baseline-privileged]" in denied["status"]["message"]
        metrics = webhook.metrics()
        assert 'pathwarden_webhook_inventory_syncs_total{result="failure"}' in metrics
        assert "pathwarden_webhook_referential_policies_held_back 1.0" in metrics
        assert "pathwarden_webhook_inventory_last_success_timestamp_seconds 0.0" in metrics


def test_a_failing_relist_keeps_the_last_good_inventory(certs, kube_api, cluster):
    kube_api.add(budget("web", "shop", "web"))
    with running_webhook(certs, inventory=cluster) as webhook:
        first = synced(webhook)
        assert first["objects"] == 3

        kube_api.fail["poddisruptionbudgets"] = 403  # RBAC took PDBs away: a hole
        status = resync(webhook)
        assert status["synced_at"] == first["synced_at"] and status["objects"] == 3
        assert status["last_error"].startswith("cluster prod: incomplete list, not used: ")
        assert "forbidden (403)" in status["last_error"]
        assert pdb_warnings(webhook.admit(review(replicated(), kind="Deployment"))) == []

        kube_api.fail["poddisruptionbudgets"] = 500
        assert "server error (500)" in resync(webhook)["last_error"]
        assert webhook.admit(review(replicated(), kind="Deployment"))["allowed"] is True

        del kube_api.fail["poddisruptionbudgets"]
        recovered = resync(webhook)
        assert recovered["last_error"] is None and recovered["synced_at"] != first["synced_at"]

        kube_api.stop()  # the API server goes away altogether
        assert "cannot connect" in resync(webhook)["last_error"]
        assert pdb_warnings(webhook.admit(review(replicated(), kind="Deployment"))) == []
        assert readyz(webhook)["referential_policies_held_back"] == []


def test_secrets_are_synced_as_metadata_only_even_from_a_misbehaving_server(
        certs, kube_api, cluster):
    kube_api.ignore_metadata_accept = True  # sends values whatever was asked
    kube_api.add({"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "db", "namespace": "shop", "annotations": {
                      "kubectl.kubernetes.io/last-applied-configuration":
                          '{"data":{"password":"aHVudGVyMg=="}}'}},
                  "data": {"password": "aHVudGVyMg=="}, "stringData": {"pin": "1234"}})
    settings = InventorySettings(kubeconfig=cluster.kubeconfig, context="prod",
                                 kinds=("Namespace", "Secret", "PodDisruptionBudget"),
                                 watch=False, resync_seconds=3600)
    with running_webhook(certs, inventory=settings) as webhook:
        assert synced(webhook)["objects"] == 3
        inventory = webhook.server.holder.inventory
        assert inventory is not None
        secret = inventory["namespace"]["shop"]["v1"]["Secret"]["db"]
        assert set(secret) == {"apiVersion", "kind", "metadata"}
        seen = json.dumps([inventory, readyz(webhook), webhook.metrics()])
        assert "aHVudGVyMg==" not in seen and "1234" not in seen
        assert kube_api.listed("secrets")
        assert all(r.accept == METADATA_ONLY for r in kube_api.listed("secrets"))


# --- Gatekeeper: uniqueness and namespaceSelector, and a reload keeps the inventory ---

OWNER_IN_PROD = """
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: prod-workloads-have-an-owner
spec:
  enforcementAction: {action}
  match:
    kinds: [{{apiGroups: ["apps"], kinds: ["Deployment"]}}]
    namespaceSelector: {{matchLabels: {{tier: prod}}}}
  parameters:
    labels: [{{key: owner}}]
"""


@pytest.fixture
def gatekeeper(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(GATEKEEPER / "unique-ingress-host", root / "unique-ingress-host")
    labels = root / "required-labels"
    labels.mkdir()
    shutil.copy(GATEKEEPER / "required-labels" / "template.yaml", labels / "template.yaml")
    (labels / "constraint.yaml").write_text(
        textwrap.dedent(OWNER_IN_PROD).format(action="deny"), encoding="utf-8")
    return root


def test_gatekeeper_referential_constraints_are_evaluated_at_admission(
        certs, kube_api, cluster, gatekeeper):
    kube_api.add(ingress("storefront", "web", "www.acme.example", "shop.acme.example"),
                 namespace("web"))
    with running_webhook(certs, policy_dirs=[gatekeeper], builtin=False,
                         inventory=cluster) as webhook:
        assert synced(webhook)["last_error"] is None
        assert readyz(webhook)["policies"] == 2

        taken = webhook.admit(ingress_review(ingress("shop", "shop", "shop.acme.example")))
        assert taken["allowed"] is False
        assert (f"[{UNIQUE_HOST}] host shop.acme.example is already used by Ingress "
                "web/storefront") in taken["status"]["message"]
        assert webhook.admit(ingress_review(ingress("shop", "shop", "new.acme.example"))
                             )["allowed"] is True
        # An UPDATE of the Ingress that holds the host is not its own duplicate.
        before = ingress("storefront", "web", "www.acme.example", "shop.acme.example")
        after = copy.deepcopy(before)
        after["metadata"]["labels"] = {"team": "web"}
        assert webhook.admit(ingress_review(after, operation="UPDATE", old=before)
                             )["allowed"] is True

        # namespaceSelector: judged on the labels of the synced Namespace objects.
        unowned = replicated()
        denied = webhook.admit(review(unowned, kind="Deployment"))
        assert denied["allowed"] is False and f"[{PROD_OWNER}]" in denied["status"]["message"]
        assert webhook.admit(review(replicated(ns="lab"), kind="Deployment"))["allowed"]

        # A reloaded policy set is served with the inventory already held.
        (gatekeeper / "required-labels" / "constraint.yaml").write_text(
            textwrap.dedent(OWNER_IN_PROD).format(action="warn"), encoding="utf-8")
        wait_for(lambda: readyz(webhook)["generation"] == 2, "the reload")
        assert readyz(webhook)["referential_policies_held_back"] == []
        warned = webhook.admit(review(unowned, kind="Deployment"))
        assert warned["allowed"] is True
        assert any(w.startswith(f"[{PROD_OWNER}]") for w in warned["warnings"])
        assert webhook.admit(ingress_review(ingress("shop", "shop", "shop.acme.example"))
                             )["allowed"] is False

        # A resync with a new object reaches the Rego bundle (data.inventory recompiled).
        kube_api.add(ingress("docs", "web", "docs.acme.example"))
        resync(webhook)
        again = webhook.admit(ingress_review(ingress("docs2", "shop", "docs.acme.example")))
        assert "already used by Ingress web/docs" in again["status"]["message"]


def test_without_sync_referential_constraints_are_held_back(certs, gatekeeper):
    with running_webhook(certs, policy_dirs=[gatekeeper], builtin=False) as webhook:
        ready = readyz(webhook)
        assert ready["inventory"] is None and ready["policies"] == 0
        assert sorted(ready["referential_policies_held_back"]) == [PROD_OWNER, UNIQUE_HOST]
        assert webhook.admit(review(replicated(), kind="Deployment"))["allowed"] is True


# --- configuration ---

def config(tmp_path: Path, inventory: str) -> Path:
    path = tmp_path / "pathwarden.yaml"
    path.write_text("webhook:\n" + textwrap.indent(textwrap.dedent(inventory), "  "),
                    encoding="utf-8")
    return path


def test_the_inventory_section_is_read(tmp_path):
    assert load_settings(config(tmp_path, "port: 8443\n"), {}).webhook.inventory is None
    on = load_settings(config(tmp_path, "inventory: {in_cluster: true}\n"), {})
    assert on.webhook.inventory == InventorySettings(in_cluster=True)
    assert on.webhook.inventory.kinds == DEFAULT_INVENTORY_KINDS
    assert on.webhook.inventory.label == "in-cluster"
    custom = load_settings(config(tmp_path, """
        inventory:
          name: prod
          kubeconfig: kube/config
          context: prod-eu
          kinds: [Ingress, Service]
          namespaces: [shop]
          resync_seconds: 30
          timeout_seconds: 5
        """), {}).webhook.inventory
    assert custom == InventorySettings(
        name="prod", kubeconfig=tmp_path / "kube" / "config", context="prod-eu",
        kinds=("Namespace", "Ingress", "Service"), namespaces=("shop",),
        resync_seconds=30, timeout_seconds=5)


@pytest.mark.parametrize(("inventory", "message"), [
    ("inventory: {}", "must name the cluster to sync"),
    ("inventory: {in_cluster: true, context: prod}", "in_cluster excludes kubeconfig"),
    ("inventory: {in_cluster: yes please}", "in_cluster must be true or false"),
    ("inventory: {in_cluster: true, kinds: [Widget]}", "unknown Kubernetes kind 'Widget'"),
    ("inventory: {in_cluster: true, resync_seconds: 0}", "resync_seconds must be a whole"),
    ("inventory: {in_cluster: true, resync: 5}", "unknown key(s) ['resync']"),
    ("inventory: [in_cluster]", "webhook.inventory must be a mapping"),
])
def test_a_wrong_inventory_section_is_a_config_error(tmp_path, inventory, message):
    with pytest.raises(ConfigError) as raised:
        load_settings(config(tmp_path, inventory + "\n"), {})
    assert message in str(raised.value)
