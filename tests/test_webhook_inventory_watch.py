"""`webhook.inventory.watch: true`: the inventory follows the cluster's changes by watch.

The real webhook over HTTPS and the real `kubernetes` client, against the loopback
stand-in of the Kubernetes API, which serves list and watch with kube-apiserver's shapes
(tests/standins/kube_api.py, kube_watch.py). Changes are awaited through admission answers
and `/readyz`, never by sleeping; nothing here asserts how fast they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pathwarden.engine.inventory_config import InventorySettings, parse_inventory
from pathwarden.engine.sources.cluster_watch import METADATA_WATCH

from .test_webhook_inventory import (
    PDB_POLICY,
    budget,
    namespace,
    pdb_warnings,
    readyz,
    replicated,
)
from .webhook_support import Running, make_certs, review, running_webhook, wait_for

if TYPE_CHECKING:
    from .standins.kube_api import KubeApiStandIn

pytest_plugins = ("tests.standins.kube_api",)  # kube_api, kubeconfig


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def watched(kube_api: KubeApiStandIn, kubeconfig: Any) -> Iterator[InventorySettings]:
    kube_api.add(namespace("shop", tier="prod"), namespace("lab"))
    path = kubeconfig(kube_api.context("prod"))
    yield InventorySettings(kubeconfig=path, context="prod", watch=True,
                            kinds=("Namespace", "PodDisruptionBudget"), resync_seconds=3600)


def warned(webhook: Running, ns: str = "shop") -> list[str]:
    return pdb_warnings(webhook.admit(review(replicated(ns=ns), kind="Deployment")))


def watching(kube_api: KubeApiStandIn, webhook: Running, count: int = 2) -> dict[str, Any]:
    """Wait for the first inventory and for every kind's watch to be open."""
    wait_for(lambda: readyz(webhook)["inventory"]["synced_at"], "the first inventory")
    assert kube_api.wait_for_watches(count, timeout=30)
    return readyz(webhook)["inventory"]


def test_a_change_in_the_cluster_reaches_admission_without_a_relist(
        certs, kube_api, watched):
    with running_webhook(certs, inventory=watched) as webhook:
        status = watching(kube_api, webhook)
        assert status["mode"] == "watch" and status["last_error"] is None
        assert status["objects"] == 2 and status["resync_seconds"] == 3600
        assert warned(webhook) == [
            f"[{PDB_POLICY}] Deployment with 2 replicas has no PodDisruptionBudget selecting "
            "its pods in namespace shop"]
        lists = len(kube_api.listed("poddisruptionbudgets"))

        kube_api.add(budget("web", "shop", "web"))
        wait_for(lambda: warned(webhook) == [], "the new budget to be seen")
        kube_api.add({**budget("web", "shop", "other"), "spec": {
            "maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name":
                                                                "other"}}}})
        wait_for(lambda: warned(webhook), "the changed budget to stop covering web")
        kube_api.add(budget("web", "shop", "web"))
        wait_for(lambda: warned(webhook) == [], "the budget to cover web again")
        kube_api.delete("PodDisruptionBudget", "web", "shop")
        wait_for(lambda: warned(webhook), "the deleted budget to be gone")

        assert len(kube_api.listed("poddisruptionbudgets")) == lists  # events, not lists
        watch = kube_api.watched("poddisruptionbudgets")[0]
        assert watch.query["allowWatchBookmarks"] == "true"
        assert readyz(webhook)["inventory"]["objects"] == 2
        metrics = webhook.metrics()
        assert "pathwarden_webhook_inventory_objects 2.0" in metrics


def test_an_expired_resource_version_lists_again_and_misses_nothing(
        certs, kube_api, watched):
    with running_webhook(certs, inventory=watched) as webhook:
        watching(kube_api, webhook)
        lists = len(kube_api.listed("poddisruptionbudgets"))
        # The connection breaks; meanwhile a budget is added and history is compacted,
        # so the watch cannot resume where it was and the kind is listed again.
        kube_api.compact()
        kube_api.drop_watches()
        kube_api.add(budget("web", "shop", "web"))
        kube_api.compact()
        wait_for(lambda: warned(webhook) == [], "the budget added during the outage")
        assert len(kube_api.listed("poddisruptionbudgets")) > lists
        assert kube_api.wait_for_watches(2, timeout=30)
        assert readyz(webhook)["inventory"]["last_error"] is None


def test_a_dropped_watch_resumes_from_its_last_resource_version(certs, kube_api, watched):
    with running_webhook(certs, inventory=watched) as webhook:
        watching(kube_api, webhook)
        kube_api.add(budget("web", "shop", "web"))
        wait_for(lambda: warned(webhook) == [], "the budget")
        seen = kube_api.watched("poddisruptionbudgets")[-1]
        lists = len(kube_api.listed("poddisruptionbudgets"))
        kube_api.drop_watches()
        kube_api.delete("PodDisruptionBudget", "web", "shop")
        wait_for(lambda: warned(webhook), "the deletion made while the watch was down")
        again = kube_api.watched("poddisruptionbudgets")[-1]
        assert int(again.query["resourceVersion"]) > int(seen.query["resourceVersion"])
        assert len(kube_api.listed("poddisruptionbudgets")) == lists


def test_a_forbidden_kind_keeps_the_last_good_inventory(certs, kube_api, watched):
    with running_webhook(certs, inventory=watched) as webhook:
        watching(kube_api, webhook)
        kube_api.fail["poddisruptionbudgets"] = 403
        webhook.server.inventory.poke()  # relist: now forbidden
        wait_for(lambda: readyz(webhook)["inventory"]["last_error"], "the failure")
        status = readyz(webhook)["inventory"]
        assert "PodDisruptionBudget" in status["last_error"]
        assert "forbidden (403)" in status["last_error"]
        assert status["objects"] == 2  # still the last good one
        assert warned(webhook)  # the policy still runs on it
        del kube_api.fail["poddisruptionbudgets"]
        kube_api.add(budget("web", "shop", "web"))
        webhook.server.inventory.poke()  # what SIGHUP does: no waiting out the retry pause
        wait_for(lambda: warned(webhook) == [], "recovery with the new budget")
        assert readyz(webhook)["inventory"]["last_error"] is None


def test_secrets_are_watched_as_metadata_only_even_from_a_misbehaving_server(
        certs, kube_api, watched):
    kube_api.ignore_metadata_accept = True
    settings = InventorySettings(kubeconfig=watched.kubeconfig, context="prod", watch=True,
                                 kinds=("Namespace", "Secret"), resync_seconds=3600)
    with running_webhook(certs, inventory=settings) as webhook:
        watching(kube_api, webhook)
        kube_api.add({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "db", "namespace": "shop", "annotations": {
                          "kubectl.kubernetes.io/last-applied-configuration":
                              '{"data":{"password":"aHVudGVyMg=="}}'}},
                      "data": {"password": "aHVudGVyMg=="}, "stringData": {"pin": "1234"}})

        def secret() -> dict[str, Any] | None:
            inventory = webhook.server.holder.inventory or {}
            return inventory.get("namespace", {}).get("shop", {}).get("v1", {}).get(
                "Secret", {}).get("db")

        assert set(wait_for(secret, "the watched Secret")) == {"apiVersion", "kind",
                                                               "metadata"}
        seen = json.dumps([webhook.server.holder.inventory, readyz(webhook),
                           webhook.metrics()])
        assert "aHVudGVyMg==" not in seen and "1234" not in seen
        assert all(r.accept == METADATA_WATCH for r in kube_api.watched("secrets"))


def test_namespaces_limit_what_is_watched(certs, kube_api, watched):
    settings = InventorySettings(kubeconfig=watched.kubeconfig, context="prod", watch=True,
                                 kinds=("Namespace", "PodDisruptionBudget"),
                                 namespaces=("shop",), resync_seconds=3600)
    with running_webhook(certs, inventory=settings) as webhook:
        watching(kube_api, webhook)
        assert readyz(webhook)["inventory"]["objects"] == 1  # only Namespace shop
        kube_api.add(namespace("extra"), budget("web", "lab", "web"))
        kube_api.add(budget("web", "shop", "web"))
        wait_for(lambda: warned(webhook) == [], "the shop budget")
        assert readyz(webhook)["inventory"]["objects"] == 2  # not lab's, not extra
        paths = {r.path for r in kube_api.watched("poddisruptionbudgets")}
        assert paths == {"/apis/policy/v1/namespaces/shop/poddisruptionbudgets"}


def test_watch_is_the_default_and_can_be_turned_off(tmp_path):
    on = parse_inventory({"in_cluster": True}, tmp_path, None)
    off = parse_inventory({"in_cluster": True, "watch": False}, tmp_path, None)
    assert on is not None and on.watch and on.resync_seconds == 600
    assert off is not None and not off.watch and off.resync_seconds == 60
    with pytest.raises(Exception, match="watch must be true or false"):
        parse_inventory({"in_cluster": True, "watch": "yes"}, tmp_path, None)
