"""The cluster source, through the real `kubernetes` client, against a loopback stand-in of
the Kubernetes API (tests/standins/kube_api.py; there is no API server on this machine).

Every test writes a real kubeconfig into tmp_path, so context selection, credentials and
CA handling are the client's own. Timeouts are asserted by their error, never by time.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import asdict
from typing import Any

import pytest
from kubernetes import config as kube_config
from kubernetes.client import Configuration
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.sources.base import Collected
from pathwarden.engine.sources.cluster import (
    METADATA_ONLY,
    ClusterSpec,
    collect_cluster,
    contexts_of,
)
from pathwarden.engine.sources.kube_kinds import DEFAULT_KINDS

pytest_plugins = ("tests.standins.kube_api",)  # kube_api, start_kube_api, kubeconfig, unreachable

PASSWORD = "hunter2-the-real-password"
PASSWORD_B64 = base64.b64encode(PASSWORD.encode()).decode()


def pod(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]}}


def deployment(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "app", "image": "registry.example/app:1.0"}]}}}}


def secret(name: str, namespace: str = "shop") -> dict[str, Any]:
    manifest = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace},
                "type": "Opaque", "data": {"password": PASSWORD_B64}}
    applied = {**manifest, "metadata": {
        **manifest["metadata"],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                        json.dumps({**manifest, "stringData": {"password": PASSWORD}}),
                        "team": "payments"}}}
    return {**applied, "stringData": {"password": PASSWORD}}


def estate() -> list[dict[str, Any]]:
    return [
        pod("web-1"), pod("web-2"), pod("job-runner", "data"),
        deployment("web"), deployment("etl", "data"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "viewer"}, "rules": []},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings",
                                                               "namespace": "shop"},
         "data": {"level": "info"}},
        secret("db-credentials"), secret("api-key", "data"),
    ]


def ids(collected: Collected) -> set[str]:
    return {t.id for t in collected.targets}


def everything(collected: Collected) -> str:
    """All a caller could see of a Collected, as text, to search for leaked values."""
    return json.dumps(asdict(collected), default=str)


def test_objects_of_several_kinds_come_back_as_k8s_targets(kube_api, kubeconfig):
    kube_api.add(*estate())
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, context="prod-eu"))

    assert collected.error is None and collected.problems == []
    assert collected.source == "cluster:prod-eu"
    assert ids(collected) == {
        "k8s:shop/v1/Pod/web-1", "k8s:shop/v1/Pod/web-2", "k8s:data/v1/Pod/job-runner",
        "k8s:shop/apps/v1/Deployment/web", "k8s:data/apps/v1/Deployment/etl",
        "k8s:shop/v1/Service/web", "k8s:_cluster/v1/Namespace/shop",
        "k8s:_cluster/v1/Namespace/data",
        "k8s:_cluster/rbac.authorization.k8s.io/v1/ClusterRole/viewer",
        "k8s:shop/policy/v1/PodDisruptionBudget/web", "k8s:shop/v1/ConfigMap/settings",
        "k8s:shop/v1/Secret/db-credentials", "k8s:data/v1/Secret/api-key"}
    web = next(t for t in collected.targets if t.id == "k8s:shop/apps/v1/Deployment/web")
    assert (web.kind, web.ref.object_kind, web.ref.namespace, web.ref.name) == (
        "k8s", "Deployment", "shop", "web")
    assert web.ref.location is None
    review = web.document["review"]
    assert review["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    obj = review["object"]
    assert (obj["apiVersion"], obj["kind"]) == ("apps/v1", "Deployment")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.0")
    assert "managedFields" not in obj["metadata"] and obj["metadata"]["resourceVersion"]
    viewer = next(t for t in collected.targets if t.ref.object_kind == "ClusterRole")
    assert viewer.ref.namespace is None
    assert [o["metadata"]["name"] for o in collected.inventory] == [
        t.ref.name for t in collected.targets]
    assert all("managedFields" not in o["metadata"] for o in collected.inventory)


def test_every_default_kind_is_requested_with_the_token_of_the_context(kube_api, kubeconfig):
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config))

    assert collected.error is None and collected.problems == []
    assert collected.source == "cluster:prod-eu"  # the current context names it
    assert len(kube_api.requests) == len(DEFAULT_KINDS)
    assert {r.authorization for r in kube_api.requests} == {"Bearer stand-in-token"}
    assert "/apis/autoscaling/v2/horizontalpodautoscalers" in {r.path for r in kube_api.requests}


def test_lists_are_read_page_by_page(kube_api, kubeconfig):
    kube_api.add(*[pod(f"web-{i}") for i in range(7)])
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod",), page_size=3))

    assert sorted(t.ref.name for t in collected.targets) == [f"web-{i}" for i in range(7)]
    pages = kube_api.listed("pods")
    assert [r.query.get("limit") for r in pages] == ["3", "3", "3"]
    assert "continue" not in pages[0].query
    assert all(r.query.get("continue") for r in pages[1:])
    assert pages[1].query["continue"] != pages[2].query["continue"]


def test_secret_values_never_reach_the_collected_result(kube_api, kubeconfig):
    kube_api.add(*[secret(f"s{i}") for i in range(3)], pod("web"))
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Secret", "Pod"),
                                            page_size=2))

    assert collected.error is None and collected.problems == []
    assert {t.id for t in collected.targets if t.ref.object_kind == "Secret"} == {
        "k8s:shop/v1/Secret/s0", "k8s:shop/v1/Secret/s1", "k8s:shop/v1/Secret/s2"}
    text = everything(collected)
    assert PASSWORD not in text and PASSWORD_B64 not in text
    for obj in (o for o in collected.inventory if o["kind"] == "Secret"):
        assert set(obj) == {"apiVersion", "kind", "metadata"}
        assert obj["apiVersion"] == "v1"
        assert obj["metadata"]["annotations"] == {"team": "payments"}
    secret_requests = kube_api.listed("secrets")
    assert len(secret_requests) == 2  # paged like any other kind
    assert all(r.metadata_only and r.accept == METADATA_ONLY for r in secret_requests)
    assert not any(r.metadata_only for r in kube_api.listed("pods"))


def test_secret_values_are_dropped_when_the_server_sends_them_anyway(kube_api, kubeconfig):
    kube_api.add(secret("db-credentials"), secret("api-key", "data"))
    kube_api.ignore_metadata_accept = True
    request = urllib.request.Request(f"{kube_api.url}/api/v1/secrets", headers={
        "Accept": METADATA_ONLY, "Authorization": "Bearer stand-in-token"})
    with urllib.request.urlopen(request) as answer:  # the stand-in really misbehaves
        assert PASSWORD_B64 in answer.read().decode()
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Secret",)))

    assert len(collected.targets) == 2 and collected.problems == []
    text = everything(collected)
    assert PASSWORD not in text and PASSWORD_B64 not in text
    assert all(set(o) == {"apiVersion", "kind", "metadata"} for o in collected.inventory)
    assert kube_api.listed("secrets")[-1].metadata_only


def test_a_forbidden_secret_list_leaks_nothing_and_the_rest_is_listed(kube_api, kubeconfig):
    kube_api.add(secret("db-credentials"), pod("web"))
    kube_api.fail["secrets"] = 403
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod", "Secret")))

    assert collected.error is None
    assert ids(collected) == {"k8s:shop/v1/Pod/web"}
    [problem] = collected.problems
    assert problem.step == "list"
    assert str(problem.location) == "cluster:prod-eu"
    assert problem.message.startswith("Secret (v1 secrets): forbidden (403): ")
    assert 'cannot list resource "secrets"' in problem.message
    assert PASSWORD_B64 not in everything(collected)


def test_two_contexts_of_one_kubeconfig_are_collected_separately(start_kube_api, kubeconfig):
    eu, us = start_kube_api(token="eu-token"), start_kube_api(token="us-token")
    eu.add(pod("checkout"), deployment("checkout"))
    us.add(pod("search", "search"))
    config = kubeconfig(eu.context("prod-eu"), us.context("prod-us"))
    kinds = ("Pod", "Deployment")

    results = {name: collect_cluster(ClusterSpec(kubeconfig=config, context=name, kinds=kinds))
               for name in contexts_of(config)}

    assert ids(results["prod-eu"]) == {"k8s:shop/v1/Pod/checkout",
                                      "k8s:shop/apps/v1/Deployment/checkout"}
    assert ids(results["prod-us"]) == {"k8s:search/v1/Pod/search"}
    assert [c.source for c in results.values()] == ["cluster:prod-eu", "cluster:prod-us"]
    assert {r.authorization for r in eu.requests} == {"Bearer eu-token"}
    assert {r.authorization for r in us.requests} == {"Bearer us-token"}
    default = Configuration.get_default_copy()  # the client's global default is untouched
    assert default.host not in (eu.url, us.url) and not default.api_key


def test_an_unreachable_context_is_an_error_and_the_other_is_still_scanned(
        kube_api, kubeconfig, unreachable):
    kube_api.add(pod("web"))
    prod = unreachable("prod-eu")
    config = kubeconfig(prod, kube_api.context("staging"))

    results = [collect_cluster(ClusterSpec(kubeconfig=config, context=name, kinds=("Pod",)))
               for name in contexts_of(config)]

    broken, fine = results
    assert broken.source == "cluster:prod-eu"
    assert broken.error == f"cluster prod-eu ({prod.server}): cannot connect: Connection refused"
    assert (broken.targets, broken.inventory, broken.problems) == ([], [], [])
    assert fine.error is None and ids(fine) == {"k8s:shop/v1/Pod/web"}


def test_the_name_replaces_the_context_in_the_source_and_the_error(kubeconfig, unreachable):
    eks = unreachable("arn:aws:eks:eu-west-1:1:cluster/p")
    config = kubeconfig(eks)

    collected = collect_cluster(ClusterSpec(name="prod-eu", kubeconfig=config))

    assert collected.source == "cluster:prod-eu"
    assert collected.error is not None
    assert collected.error.startswith(f"cluster prod-eu ({eks.server}): cannot connect")


def test_a_wrong_token_is_an_error_for_the_whole_cluster(kube_api, kubeconfig):
    kube_api.add(pod("web"))
    config = kubeconfig(kube_api.context("prod-eu", token="stale-token"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config))

    assert collected.error == (f"cluster prod-eu ({kube_api.url}): unauthorized (401): the "
                               "credentials were refused: Unauthorized")
    assert collected.targets == [] and collected.inventory == []
    assert len(kube_api.requests) == 1  # the first refusal stops the scan
    assert kube_api.requests[0].authorization == "Bearer stale-token"


def test_a_cluster_that_forbids_every_kind_is_an_error(kube_api, kubeconfig):
    kinds = ("Pod", "Deployment")
    kube_api.fail.update({"pods": 403, "deployments": 403})
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=kinds))

    assert collected.error is not None
    assert collected.error.startswith(
        f"cluster prod-eu ({kube_api.url}): forbidden to list any kind: forbidden (403): "
        "pods is forbidden")


def test_a_kind_the_cluster_does_not_serve_is_a_problem(kube_api, kubeconfig):
    kube_api.add(pod("web"))
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("HTTPRoute", "Pod")))

    assert collected.error is None and ids(collected) == {"k8s:shop/v1/Pod/web"}
    assert [p.message for p in collected.problems] == [
        "HTTPRoute (gateway.networking.k8s.io/v1 httproutes): not served by this cluster "
        "(404): the server could not find the requested resource"]


def test_an_expired_continue_token_restarts_the_list_once(kube_api, kubeconfig):
    kube_api.add(*[pod(f"web-{i}") for i in range(5)])
    kube_api.expire_continue["pods"] = 1
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod",), page_size=2))

    assert collected.problems == []
    assert sorted(t.ref.name for t in collected.targets) == [f"web-{i}" for i in range(5)]
    assert len(collected.targets) == 5  # the half-read first attempt was discarded
    starts = [r for r in kube_api.listed("pods") if "continue" not in r.query]
    assert len(starts) == 2


def test_a_list_that_expires_twice_is_a_problem_for_that_kind(kube_api, kubeconfig):
    kube_api.add(*[pod(f"web-{i}") for i in range(5)], deployment("web"))
    kube_api.expire_continue["pods"] = 2
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod", "Deployment"),
                                            page_size=2))

    assert ids(collected) == {"k8s:shop/apps/v1/Deployment/web"}
    [problem] = collected.problems
    assert problem.message.startswith("Pod (v1 pods): the list expired while paging, twice "
                                      "(410 Gone)")


def test_a_cluster_that_does_not_answer_in_time_is_an_error(kube_api, kubeconfig):
    kube_api.add(pod("web"), deployment("web"))
    kube_api.delay["deployments"] = 30  # cut short when the stand-in stops
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod", "Deployment"),
                                            timeout_seconds=0.2))

    assert collected.error == f"cluster prod-eu ({kube_api.url}): no answer within 0.2s (timeout)"
    assert collected.targets == []  # nothing half-read is kept
    assert len(kube_api.listed("deployments")) == 1  # a slow answer is not retried


def test_namespaces_restrict_namespaced_kinds_and_namespace_objects(kube_api, kubeconfig):
    kube_api.add(*estate())
    config = kubeconfig(kube_api.context("prod-eu"))
    spec = ClusterSpec(kubeconfig=config, kinds=("Pod", "Namespace", "ClusterRole"),
                       namespaces=("data",))

    collected = collect_cluster(spec)

    assert ids(collected) == {
        "k8s:data/v1/Pod/job-runner", "k8s:_cluster/v1/Namespace/data",
        "k8s:_cluster/rbac.authorization.k8s.io/v1/ClusterRole/viewer"}
    assert [r.path for r in kube_api.requests] == [
        "/api/v1/namespaces/data/pods", "/api/v1/namespaces",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles"]


def test_a_namespace_forbidden_for_one_kind_is_a_problem_for_that_namespace_only(
        kube_api, kubeconfig):
    kube_api.add(*estate())
    kube_api.fail["data/pods"] = 403
    config = kubeconfig(kube_api.context("prod-eu"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod", "Deployment"),
                                            namespaces=("shop", "data")))

    assert collected.error is None
    assert ids(collected) == {
        "k8s:shop/v1/Pod/web-1", "k8s:shop/v1/Pod/web-2", "k8s:shop/apps/v1/Deployment/web",
        "k8s:data/apps/v1/Deployment/etl"}
    [problem] = collected.problems
    assert problem.message.startswith(
        'Pod (v1 pods) in namespace data: forbidden (403): pods is forbidden: User '
        '"system:serviceaccount:pathwarden:scanner" cannot list resource "pods" in API group '
        '"" in the namespace "data"')


def test_contexts_of_lists_every_context_in_file_order(tmp_path, kubeconfig, unreachable):
    config = kubeconfig(unreachable("b"), unreachable("a"), unreachable("c"), current="a")

    assert contexts_of(config) == ["b", "a", "c"]
    with pytest.raises(ConfigError, match=r"kubeconfig .*missing"):
        contexts_of(tmp_path / "missing")


def test_an_unusable_kubeconfig_is_an_error_of_that_source(tmp_path, kubeconfig, unreachable):
    config = kubeconfig(unreachable("a"))

    missing = collect_cluster(ClusterSpec(kubeconfig=tmp_path / "nope"))
    unknown = collect_cluster(ClusterSpec(kubeconfig=config, context="prod-eu"))

    assert missing.source == "cluster:current"
    assert missing.error is not None and missing.error.startswith(
        f"cluster current: kubeconfig {tmp_path / 'nope'}: ")
    assert unknown.source == "cluster:prod-eu"
    assert unknown.error is not None and "prod-eu" in unknown.error


def test_a_spec_with_an_unknown_kind_or_bad_numbers_is_refused():
    with pytest.raises(ConfigError, match="unknown Kubernetes kind 'Widget'"):
        ClusterSpec(name="x", kinds=("Pod", "Widget"))
    with pytest.raises(ConfigError, match="page_size"):
        ClusterSpec(name="x", page_size=0)
    with pytest.raises(ConfigError, match="in_cluster"):
        ClusterSpec(in_cluster=True, context="x")


def test_https_with_a_client_certificate_from_the_kubeconfig(start_kube_api, kubeconfig):
    server = start_kube_api(tls=True)
    server.add(pod("web"))
    config = kubeconfig(server.context("prod-eu", user="scanner"))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod",)))

    assert collected.error is None and ids(collected) == {"k8s:shop/v1/Pod/web"}
    assert server.requests[0].client_cert and server.requests[0].authorization is None


def test_a_server_certificate_from_another_ca_is_a_tls_error(start_kube_api, kubeconfig):
    server, other = start_kube_api(tls=True), start_kube_api(tls=True)
    assert server.tls and other.tls
    config = kubeconfig(server.context("prod-eu", ca_pem=other.tls.ca_pem))

    collected = collect_cluster(ClusterSpec(kubeconfig=config, kinds=("Pod",)))

    assert collected.error is not None
    assert collected.error.startswith(f"cluster prod-eu ({server.url}): TLS error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in collected.error
    assert server.requests == []


def test_in_cluster_uses_the_service_account_token_and_ca(start_kube_api, tmp_path,
                                                          monkeypatch):
    server = start_kube_api(token="sa-token", tls=True)
    assert server.tls
    server.add(pod("web"))
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(server.tls.ca_pem)
    incluster = kube_config.incluster_config
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))

    collected = collect_cluster(ClusterSpec(in_cluster=True, kinds=("Pod",)))

    assert collected.source == "cluster:in-cluster"
    assert collected.error is None and ids(collected) == {"k8s:shop/v1/Pod/web"}
    assert server.requests[0].authorization == "bearer sa-token"
