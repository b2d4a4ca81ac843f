"""Gatekeeper constraints at admission: the real webhook over HTTPS, real AdmissionReviews.

The webhook serves the policy set `pathwarden webhook` serves (`admission_policy_set`):
referential constraints (those reading `data.inventory`) are left to the audit, because
the webhook has no inventory of the cluster to give them.
"""

from __future__ import annotations

import argparse
import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pathwarden.engine.cli.webhook_cmd import admission_policy_set
from pathwarden.engine.settings import load_settings

from .webhook_support import make_certs, review, running_webhook, wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "gatekeeper"
CASES = EXAMPLES / "suites"


def case(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gatekeeper") / "policies"
    shutil.copytree(EXAMPLES / "policies", root)
    return root


@pytest.fixture(scope="module")
def webhook(certs: Path, policies: Path):
    args = argparse.Namespace(policies=[policies], no_builtin=True, select=[])
    settings = load_settings(None, {})
    with running_webhook(certs, policy_dirs=[policies],
                         loader=lambda: admission_policy_set(settings, args)) as running:
        yield running


def deployment(labels: dict[str, str], namespace: str = "shop") -> dict[str, Any]:
    obj = case("required-labels/cases/deployment-with-owner.yaml")
    obj["metadata"].update(labels=labels, namespace=namespace)
    return obj


def test_a_deny_constraint_denies_with_the_template_message_and_remediation(webhook):
    answer = webhook.admit(review(deployment({"app": "web"}), kind="Deployment"))
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    message = answer["status"]["message"]
    assert message.startswith("Deployment shop/web violates")
    assert '[k8srequiredlabels.workloads-must-have-owner] missing required labels: {"owner"}' \
        in message
    assert "fix: Add the missing labels to metadata.labels." in message
    good = webhook.admit(review(deployment({"owner": "team-shop"}), kind="Deployment"))
    assert good == {"uid": good["uid"], "allowed": True}


def test_the_match_decides_where_a_constraint_applies(webhook):
    # excludedNamespaces: ["kube-*", "*-system"]
    answer = webhook.admit(review(deployment({}, namespace="payments-system"),
                                  kind="Deployment"))
    assert answer["allowed"] is True and "warnings" not in answer


def test_a_warn_constraint_allows_with_warnings(webhook):
    pod = case("allowed-repos/cases/pod-disallowed.yaml")
    answer = webhook.admit(review(pod))
    assert answer["allowed"] is True
    assert sorted(answer["warnings"]) == [
        "[k8sallowedrepos.shop-images-from-acme] container app uses image "
        "docker.io/library/nginx:1.27; allowed repositories: registry.acme.example/, "
        "ghcr.io/acme/",
        "[k8sallowedrepos.shop-images-from-acme] container setup uses image "
        "quay.io/acme/setup:2; allowed repositories: registry.acme.example/, ghcr.io/acme/",
    ]
    pod["metadata"]["namespace"] = "data"  # outside spec.match.namespaces
    assert "warnings" not in webhook.admit(review(pod))


def test_an_update_is_judged_with_its_old_object_and_user(webhook):
    before = deployment({"owner": "team-shop"})
    after = copy.deepcopy(before)
    after["metadata"]["labels"]["owner"] = "team-data"
    answer = webhook.admit(review(after, operation="UPDATE", old=before,
                                  user="dev@acme.example", groups=["developers"]))
    assert answer["allowed"] is False
    assert ("[k8simmutablelabels.team-label-is-immutable] label owner is immutable: "
            "dev@acme.example changed it from team-shop to team-data") in \
        answer["status"]["message"]
    admin = webhook.admit(review(after, operation="UPDATE", old=before,
                                 user="root@acme.example", groups=["system:masters"]))
    assert admin["allowed"] is True
    assert webhook.admit(review(after))["allowed"] is True  # a CREATE has no old labels


def test_referential_constraints_are_left_to_the_audit(webhook):
    ingress = case("unique-ingress-host/cases/ingress-shop.yaml")
    assert webhook.admit(_ingress_review(ingress))["allowed"] is True
    ready = webhook.client.get("/readyz").json()
    assert ready["policies"] == 3  # the four example constraints but unique-ingress-host


def _ingress_review(ingress: dict[str, Any]) -> dict[str, Any]:
    """webhook_support knows no Ingress resource: borrow a ConfigMap's envelope."""
    body = review({**ingress, "kind": "ConfigMap"})
    request = body["request"]
    request["object"] = ingress
    gvk = {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"}
    request["kind"] = request["requestKind"] = gvk
    request["resource"] = request["requestResource"] = {
        "group": "networking.k8s.io", "version": "v1", "resource": "ingresses"}
    return body


def test_a_changed_constraint_is_reloaded_live(webhook, policies):
    constraint = policies / "required-labels" / "constraint.yaml"
    original = constraint.read_text()
    try:
        constraint.write_text(original.replace("enforcementAction: deny",
                                               "enforcementAction: dryrun"))

        def audited() -> bool:
            body = review(deployment({"app": "web"}), kind="Deployment")
            return webhook.admit(body) == {"uid": body["request"]["uid"], "allowed": True}

        wait_for(audited, "the dryrun constraint to be served")
    finally:
        constraint.write_text(original)
    wait_for(lambda: webhook.admit(review(deployment({}), kind="Deployment"))["allowed"]
             is False, "the deny constraint to be served again")
