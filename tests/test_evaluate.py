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


def test_every_answer_shape_a_python_rule_may_give_is_read_the_same(tmp_path, write):
    write("shapes.py", '''
        from pathwarden.engine.model import Violation
        from pathwarden.engine.rules import rule, warn

        @rule(id="gen", kinds=["Pod"])
        def gen(doc):
            yield {"msg": "a", "path": "spec.x", "details": {"n": 1}}
            yield "b"
            yield warn("c", "spec.y")

        @rule(id="none", kinds=["Pod"])
        def none(doc):
            return None

        @rule(id="empty-gen", kinds=["Pod"])
        def empty_gen(doc):
            yield from ()

        @rule(id="string", kinds=["Pod"])
        def string(doc):
            return "just a string"

        @rule(id="one-dict", kinds=["Pod"])
        def one_dict(doc):
            return {"msg": "one", "path": 3}

        @rule(id="a-tuple", kinds=["Pod"])
        def a_tuple(doc):
            return (Violation("v", "spec.z"), warn("w"))

        @rule(id="only-warn", kinds=["Pod"])
        def only_warn(doc):
            return [warn("careful", "spec.w")]

        @rule(id="bad-item", kinds=["Pod"])
        def bad_item(doc):
            yield {"message": "no msg key"}
    ''')
    plain = _findings(tmp_path, pod())
    lifted = _findings(tmp_path, workload("Deployment", pod()))
    assert plain["gen"].status == "fail"
    assert [(v.msg, v.path, v.details) for v in plain["gen"].violations] == [
        ("a", "spec.x", {"n": 1}), ("b", None, None)]
    assert [(v.msg, v.path) for v in plain["gen"].warnings] == [("c", "spec.y")]
    assert [(v.msg, v.path) for v in lifted["gen"].violations] == [
        ("a", "spec.template.spec.x"), ("b", None)]
    assert [v.path for v in lifted["gen"].warnings] == ["spec.template.spec.y"]
    assert plain["none"].status == plain["empty-gen"].status == "pass"
    assert plain["none"].violations == plain["none"].warnings == ()
    assert plain["string"].messages == ["just a string"]
    assert plain["one-dict"].violations[0].path == "3"
    assert lifted["one-dict"].violations[0].path == "spec.template.3"
    assert [v.path for v in lifted["a-tuple"].violations] == ["spec.template.spec.z"]
    assert plain["a-tuple"].status == "fail" and plain["a-tuple"].messages == ["v", "w"]
    assert plain["only-warn"].status == lifted["only-warn"].status == "warn"
    assert plain["bad-item"].status == "error"
    assert "must be a string or an object with 'msg'" in plain["bad-item"].error
