"""The ownership policies judge only what the scanner mapped through a catalog."""

from __future__ import annotations

from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.k8s import make_target
from pathwarden.engine.model import Target, TargetRef
from pathwarden.engine.testing import pod, workload

POLICIES = load_policies().select(["catalog-*"])


def _statuses(target):
    return {f.policy_id: f.status.value for f in evaluate([target], POLICIES)}


def test_a_workload_without_a_service_warns_only_when_a_catalog_was_consulted():
    target = make_target(workload("Deployment", pod()))
    assert _statuses(target) == {"catalog-workload-owned": "pass"}  # plain eval: no catalog
    target.document["service"] = None
    finding = evaluate([target], POLICIES)[0]
    assert finding.status.value == "fail" and finding.enforcement.value == "warn"
    assert finding.messages == ["Deployment app maps to no catalog service"]
    target.document["service"] = {"ref": "component:default/app"}
    assert _statuses(target) == {"catalog-workload-owned": "pass"}


def test_pod_templates_are_not_judged_twice_and_namespaces_not_at_all():
    target = make_target(workload("Deployment", pod()))
    target.document["service"] = None
    assert len(evaluate([target], POLICIES)) == 1
    ns = make_target({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    ns.document["service"] = None
    assert evaluate([ns], POLICIES) == []


def test_repositories_and_pipelines_without_a_service():
    repo = Target(TargetRef("repo:shop-web", "repo", "shop-web"),
                  {"repository": {"name": "shop-web"}, "service": None})
    assert [f.messages for f in evaluate([repo], POLICIES)] == [
        ["shop-web maps to no catalog service"]]
    repo.document["service"] = {"ref": "component:default/shop-web"}
    assert [f.status.value for f in evaluate([repo], POLICIES)] == ["pass"]
