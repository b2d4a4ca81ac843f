"""A constraint's `spec.match`, judged the way Gatekeeper's matcher judges it.

The template here always reports one violation, so a finding with a violation means "the
constraint applied" and a pass means "it did not"; each test varies one criterion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pathwarden.engine import Enforcement, PolicyLoadError, Status, evaluate, load_policies
from pathwarden.engine.k8s import build_inventory, make_target

TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1beta1
kind: ConstraintTemplate
metadata: {name: k8salways}
spec:
  crd: {spec: {names: {kind: K8sAlways}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8salways

        violation[{"msg": "applies"}] { true }
"""


def constraint(match: dict[str, Any] | None, **spec: Any) -> str:
    body = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAlways",
            "metadata": {"name": "c"}, "spec": {**spec, **({"match": match} if match else {})}}
    return yaml.safe_dump(body)


def load(tmp_path: Path, match: dict[str, Any] | None, **spec: Any):
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "constraint.yaml").write_text(constraint(match, **spec), encoding="utf-8")
    return load_policies([tmp_path], builtin=False)


def obj(kind: str = "Pod", name: str = "web", namespace: str | None = "shop",
        labels: dict[str, str] | None = None, api_version: str = "v1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def applies(policy_set, manifest: dict[str, Any], *, inventory: list | None = None,
            **target: Any) -> bool:
    if inventory is not None:
        policy_set = policy_set.with_inventory(build_inventory(inventory))
    findings = evaluate([make_target(manifest, **target)], policy_set)
    assert all(f.error is None for f in findings), [f.error for f in findings]
    return any(f.status is Status.FAIL for f in findings)


def test_no_match_applies_to_every_object(tmp_path):
    policy_set = load(tmp_path, None)
    assert applies(policy_set, obj())
    assert applies(policy_set, obj("ClusterRole", namespace=None,
                                   api_version="rbac.authorization.k8s.io/v1"))


def test_kinds_need_the_api_group_and_the_kind(tmp_path):
    policy_set = load(tmp_path, {"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]},
                                           {"apiGroups": [""], "kinds": ["Pod"]}]})
    assert applies(policy_set, obj("Deployment", api_version="apps/v1"))
    assert applies(policy_set, obj("Pod"))
    assert not applies(policy_set, obj("Deployment", api_version="extensions/v1beta1"))
    assert not applies(policy_set, obj("Service"))
    assert policy_set.policies[0].kinds == ("Deployment", "Pod")


def test_wildcard_groups_and_kinds(tmp_path):
    policy_set = load(tmp_path, {"kinds": [{"apiGroups": ["*"], "kinds": ["Ingress"]},
                                           {"apiGroups": ["batch"], "kinds": ["*"]}]})
    assert applies(policy_set, obj("Ingress", api_version="networking.k8s.io/v1"))
    assert applies(policy_set, obj("Ingress", api_version="extensions/v1beta1"))
    assert applies(policy_set, obj("CronJob", api_version="batch/v1"))
    assert not applies(policy_set, obj("Pod"))


@pytest.mark.parametrize(("scope", "namespaced", "cluster", "namespace_object"), [
    ("*", True, True, True),
    ("Namespaced", True, False, False),
    ("Cluster", False, True, True),
])
def test_scope(tmp_path, scope, namespaced, cluster, namespace_object):
    policy_set = load(tmp_path, {"scope": scope})
    assert applies(policy_set, obj("ConfigMap")) is namespaced
    assert applies(policy_set, obj("ClusterRole", namespace=None,
                                   api_version="rbac.authorization.k8s.io/v1")) is cluster
    assert applies(policy_set, obj("Namespace", name="shop", namespace=None)) is \
        namespace_object


@pytest.mark.parametrize(("namespace", "expected"), [
    ("shop", True), ("kube-system", True), ("kube-public", True), ("gatekeeper-system", True),
    ("team-payments-prod", True), ("default", False), ("shopping", False),
])
def test_namespaces_with_prefix_suffix_and_infix_globs(tmp_path, namespace, expected):
    policy_set = load(tmp_path, {"namespaces": ["shop", "kube-*", "*-system", "*payments*"]})
    assert applies(policy_set, obj(namespace=namespace)) is expected


def test_namespaces_match_a_namespace_by_its_name_and_pass_cluster_scoped_objects(tmp_path):
    policy_set = load(tmp_path, {"namespaces": ["shop-*"]})
    assert applies(policy_set, obj("Namespace", name="shop-eu", namespace=None))
    assert not applies(policy_set, obj("Namespace", name="data", namespace=None))
    assert applies(policy_set, obj("ClusterRole", namespace=None,
                                   api_version="rbac.authorization.k8s.io/v1"))


def test_excluded_namespaces(tmp_path):
    policy_set = load(tmp_path, {"excludedNamespaces": ["kube-*", "*-system", "sandbox"]})
    assert not applies(policy_set, obj(namespace="kube-system"))
    assert not applies(policy_set, obj(namespace="gatekeeper-system"))
    assert not applies(policy_set, obj(namespace="sandbox"))
    assert not applies(policy_set, obj("Namespace", name="kube-public", namespace=None))
    assert applies(policy_set, obj(namespace="shop"))


def test_label_selector_match_labels_and_every_operator(tmp_path):
    policy_set = load(tmp_path, {"labelSelector": {
        "matchLabels": {"tier": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "team", "operator": "NotIn", "values": ["legacy"]},
            {"key": "owner", "operator": "Exists"},
            {"key": "skip", "operator": "DoesNotExist"}]}})
    good = {"tier": "web", "env": "prod", "owner": "a"}
    assert applies(policy_set, obj(labels=good))
    assert applies(policy_set, obj(labels={**good, "team": "shop", "owner": ""}))
    for broken in ({"tier": "api"}, {"env": "dev"}, {"team": "legacy"}, {"skip": "yes"}):
        assert not applies(policy_set, obj(labels={**good, **broken})), broken
    without_owner = {k: v for k, v in good.items() if k != "owner"}
    assert not applies(policy_set, obj(labels=without_owner))
    assert not applies(policy_set, obj(labels=None))


def test_an_update_matches_when_the_old_object_matches(tmp_path):
    policy_set = load(tmp_path, {"labelSelector": {"matchLabels": {"protected": "true"}}})
    old = obj(labels={"protected": "true"})
    new = obj(labels={})
    assert applies(policy_set, new, operation="UPDATE", old_object=old)
    assert not applies(policy_set, new)


NAMESPACES = [obj("Namespace", name="shop", namespace=None, labels={"env": "prod"}),
              obj("Namespace", name="lab", namespace=None, labels={"env": "dev"})]


def test_namespace_selector_reads_the_namespace_from_the_inventory(tmp_path):
    policy_set = load(tmp_path, {"namespaceSelector": {"matchLabels": {"env": "prod"}}})
    assert policy_set.policies[0].inventory is True
    assert applies(policy_set, obj(namespace="shop"), inventory=NAMESPACES)
    assert not applies(policy_set, obj(namespace="lab"), inventory=NAMESPACES)
    # A namespace the inventory does not hold does not match (Gatekeeper: an error).
    assert not applies(policy_set, obj(namespace="unknown"), inventory=NAMESPACES)


def test_namespace_selector_on_namespaces_and_cluster_scoped_objects(tmp_path):
    policy_set = load(tmp_path, {"namespaceSelector": {
        "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}})
    assert applies(policy_set, NAMESPACES[0], inventory=[])  # judged on its own labels
    assert not applies(policy_set, NAMESPACES[1], inventory=[])
    assert applies(policy_set, obj("ClusterRole", namespace=None,
                                   api_version="rbac.authorization.k8s.io/v1"), inventory=[])


def test_name_with_globs(tmp_path):
    policy_set = load(tmp_path, {"name": "web-*"})
    assert applies(policy_set, obj(name="web-1"))
    assert not applies(policy_set, obj(name="api-1"))
    policy_set = load(tmp_path, {"name": "*-canary"})
    assert applies(policy_set, obj(name="web-canary"))
    assert not applies(policy_set, obj(name="web"))


def test_every_criterion_must_hold(tmp_path):
    policy_set = load(tmp_path, {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
                                 "namespaces": ["shop"], "name": "web",
                                 "labelSelector": {"matchLabels": {"tier": "web"}}})
    assert applies(policy_set, obj(labels={"tier": "web"}))
    assert not applies(policy_set, obj(name="api", labels={"tier": "web"}))
    assert not applies(policy_set, obj(namespace="data", labels={"tier": "web"}))
    assert not applies(policy_set, obj(labels={"tier": "db"}))


@pytest.mark.parametrize(("action", "enforcement"), [
    (None, Enforcement.DENY), ("deny", Enforcement.DENY), ("warn", Enforcement.WARN),
    ("dryrun", Enforcement.AUDIT)])
def test_enforcement_action_maps_onto_enforcement(tmp_path, action, enforcement):
    spec = {"enforcementAction": action} if action else {}
    policy_set = load(tmp_path, None, **spec)
    assert policy_set.policies[0].enforcement is enforcement
    [finding] = evaluate([make_target(obj())], policy_set)
    assert finding.status is Status.FAIL and finding.enforcement is enforcement
    assert finding.blocks is (enforcement is Enforcement.DENY)


@pytest.mark.parametrize(("match", "spec", "message"), [
    ({"scope": "cluster"}, {}, "spec.match.scope is 'cluster'; use one of"),
    ({"namespace": ["a"]}, {}, "spec.match has unknown key 'namespace'"),
    ({"kinds": "Pod"}, {}, "spec.match.kinds must be a list"),
    ({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Equals",
                                              "values": ["b"]}]}}, {},
     "spec.match.labelSelector.matchExpressions operator 'Equals' is not one of "
     "['In', 'NotIn', 'Exists', 'DoesNotExist']"),
    ({"namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, {},
     "spec.match.namespaceSelector.matchExpressions a In needs values"),
    (None, {"enforcementAction": "block"},
     "enforcementAction 'block' is not supported; use deny, warn, dryrun"),
])
def test_an_invalid_match_or_action_is_a_load_error(tmp_path, match, spec, message):
    with pytest.raises(PolicyLoadError) as caught:
        load(tmp_path, match, **spec)
    [problem] = caught.value.problems
    assert problem.location is not None
    assert problem.location.file.endswith("constraint.yaml")
    assert f"K8sAlways/c: {message}" in problem.message
