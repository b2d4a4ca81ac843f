"""evaluate(): statuses, autogen onto pod templates, errors confined to one policy."""

from __future__ import annotations

from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.k8s import make_target
from pathwarden.engine.testing import pod, workload

from .conftest import rego_policy


def _findings(tmp_path, manifest):
    policy_set = load_policies([tmp_path], builtin=False)
    return {f.policy_id: f for f in evaluate([make_target(manifest)], policy_set)}


def test_a_runtime_error_in_one_policy_is_an_error_finding_and_the_others_run(tmp_path, write):
    write("conflict.rego", rego_policy("conflict", "t.conflict", """
        x := 1 if true
        x := 2 if true
        deny contains "never" if x == 3
    """))
    host = 'deny contains "host" if input.review.object.spec.hostNetwork'
    write("ok.rego", rego_policy("ok", "t.ok", host))
    write("crash.py", """
        from pathwarden.engine.rules import rule

        @rule(id="py-crash", kinds=["Pod"])
        def crash(doc):
            return doc["nope"]
    """)
    found = _findings(tmp_path, pod({"hostNetwork": True}))
    assert found["conflict"].status == "error" and "evaluation error" in found["conflict"].error
    assert found["py-crash"].status == "error" and "KeyError" in found["py-crash"].error
    assert found["ok"].status == "fail"


def test_a_pod_policy_judges_a_deployment_template_and_reports_its_path(tmp_path, write):
    write("p.rego", rego_policy("no-host", "t.p", """
        deny contains {"msg": "host network", "path": "spec.hostNetwork"} if {
            input.review.object.spec.hostNetwork
        }
    """))
    finding = _findings(tmp_path, workload("Deployment", pod({"hostNetwork": True})))["no-host"]
    assert finding.target.object_kind == "Deployment"
    assert finding.violations[0].path == "spec.template.spec.hostNetwork"


def test_warn_rules_give_a_warn_status(tmp_path, write):
    write("w.rego", rego_policy("w", "t.w", 'warn contains "careful" if true'))
    finding = _findings(tmp_path, pod())["w"]
    assert finding.status == "warn" and finding.messages == ["careful"]


def test_a_policy_for_other_kinds_does_not_apply(tmp_path, write):
    write("s.rego", rego_policy("svc", "t.s", 'deny contains "x" if true').replace(
        "kinds: [Pod]", "kinds: [Service]"))
    assert _findings(tmp_path, pod()) == {}


def test_secret_data_never_reaches_the_inventory():
    from pathwarden.engine.k8s import build_inventory

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
              "data": {"password": "c2VjcmV0"}, "stringData": {"token": "t"}}
    stored = build_inventory([secret])["namespace"]["n"]["v1"]["Secret"]["s"]
    assert "data" not in stored and "stringData" not in stored
