"""Tests of the Python golden-path policies, through the real engine."""

from __future__ import annotations

import pytest
from pathwarden.engine.testing import judge, pod, workload

REGISTRY = {"registries": ["registry.acme.example/"]}


@pytest.mark.parametrize(("image", "status"), [
    ("registry.acme.example/shop/web:1.0", "pass"),
    ("docker.io/library/nginx:1.25", "fail"),
    ("registry.acme.example.evil.io/x:1", "fail"),
])
def test_allowed_registries_judges_each_image(image, status):
    manifest = pod(containers=[{"name": "app", "image": image}])
    assert judge("golden-allowed-registries", manifest, parameters=REGISTRY).status == status


def test_allowed_registries_is_skipped_until_registries_are_configured():
    finding = judge("golden-allowed-registries", pod())
    assert finding.status == "skip"
    assert "registries" in finding.error


def test_allowed_registries_points_at_the_template_field_of_a_cronjob():
    manifest = workload("CronJob", pod(containers=[{"name": "job", "image": "busybox:1"}]))
    finding = judge("golden-allowed-registries", manifest, parameters=REGISTRY)
    assert finding.violations[0].path == "spec.jobTemplate.spec.template.spec.containers[0].image"


@pytest.mark.parametrize(("spec", "status"), [
    ({}, "fail"),
    ({"automountServiceAccountToken": False}, "pass"),
    ({"serviceAccountName": "web"}, "pass"),
    ({"serviceAccountName": "default", "automountServiceAccountToken": True}, "fail"),
])
def test_service_account_token_fails_only_for_the_default_account_with_a_token(spec, status):
    assert judge("golden-service-account-token", pod(spec)).status == status


LABELS = {"app.kubernetes.io/name": "web", "backstage.io/kubernetes-id": "web"}


@pytest.mark.parametrize(("labels", "status", "missing"), [
    (LABELS, "pass", 0),
    ({"app.kubernetes.io/name": "web"}, "fail", 1),
    ({}, "fail", 2),
])
def test_required_labels_names_each_missing_label(labels, status, missing):
    finding = judge("golden-required-labels", workload("Deployment", pod(), labels=labels))
    assert finding.status == status
    assert len(finding.violations) == missing


def test_required_labels_are_configurable():
    finding = judge("golden-required-labels", workload("Deployment", pod(), labels={"team": "a"}),
                    parameters={"labels": ["team"], "owner_labels": []})
    assert finding.status == "pass"


@pytest.mark.parametrize(("namespace", "labels", "replicas", "status"), [
    ("shop-prod", {}, 1, "fail"),
    ("shop-prod", {}, 3, "pass"),
    ("shop-dev", {}, 1, "pass"),
    ("shop", {"environment": "production"}, None, "fail"),
])
def test_replicas_requires_two_in_production(namespace, labels, replicas, status):
    manifest = workload("Deployment", pod(namespace=namespace), replicas=replicas, labels=labels)
    assert judge("golden-replicas", manifest).status == status


def _pdb(namespace, selector):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"maxUnavailable": 1, "selector": selector}}


@pytest.mark.parametrize(("inventory", "status"), [
    ([], "fail"),
    ([_pdb("shop", {"matchLabels": {"app": "web"}})], "pass"),
    ([_pdb("other", {"matchLabels": {"app": "web"}})], "fail"),
    ([_pdb("shop", {"matchLabels": {"app": "api"}})], "fail"),
    ([_pdb("shop", {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["web", "www"]}]})], "pass"),
])
def test_pdb_is_looked_up_in_the_inventory(inventory, status):
    manifest = workload("Deployment", pod(namespace="shop", labels={"app": "web"}), replicas=3)
    assert judge("golden-pod-disruption-budget", manifest, inventory=inventory).status == status


def test_pdb_is_not_required_for_a_single_replica():
    manifest = workload("Deployment", pod(namespace="shop"), replicas=1)
    assert judge("golden-pod-disruption-budget", manifest, inventory=[]).status == "pass"
