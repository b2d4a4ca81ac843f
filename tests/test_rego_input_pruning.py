"""Embedded Rego gets only the parts of input its modules read, and answers the same.

Converting input into rego-cpp is the costly step, so the bundle's static `input.a.b`
references decide what is converted. These tests pin down when pruning may happen and
that results do not change: library modules' reads count, dynamic reads keep everything.
"""

from __future__ import annotations

from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.k8s import make_target
from pathwarden.engine.rego.source import read_source
from pathwarden.engine.testing import pod

from .conftest import rego_policy


def _paths(body: str):
    return read_source(rego_policy("p", "t.p", body)).input_paths


def test_static_references_become_paths():
    assert _paths("""
        deny contains "x" if input.review.object.spec.hostNetwork
        deny contains "y" if input.parameters.limit > count(input.review.object.spec.containers)
        deny contains c.name if { some c in input.review.object.spec.containers; c.x }
    """) == (("parameters", "limit"), ("review", "object", "spec", "containers"),
             ("review", "object", "spec", "hostNetwork"))


def test_dynamic_reads_need_the_whole_input():
    assert _paths('deny contains "x" if input["review"].object') is None
    assert _paths('deny contains "x" if count(input) > 3') is None
    assert _paths('deny contains "x" if walk(input, [p, v])') is None


def test_strings_comments_and_other_refs_named_input_do_not_count():
    assert _paths("""
        # input.review.object is what Gatekeeper calls it
        deny contains "input.review.userInfo" if data.input.x
    """) == ()


def _findings(tmp_path, obj, **review):
    policy_set = load_policies([tmp_path], builtin=False)
    target = make_target(obj, **review)
    return {f.policy_id: f for f in evaluate([target], policy_set)}


def test_a_library_modules_reads_are_kept(tmp_path, write):
    write("lib.rego", """
        package lib.users

        import rego.v1

        admin if input.review.userInfo.username == "root"
    """)
    write("p.rego", rego_policy("by-admin", "t.admin", """
        deny contains "created by root" if data.lib.users.admin
    """))
    found = _findings(tmp_path, pod(), user_info={"username": "root"})
    assert found["by-admin"].status == "fail"


def test_a_dynamic_read_in_any_module_keeps_everything(tmp_path, write):
    write("dyn.rego", rego_policy("dyn", "t.dyn", """
        deny contains sprintf("%s is set", [k]) if {
            some k in ["hostNetwork", "hostPID"]
            input.review.object.spec[k]
        }
        deny contains "old object present" if input.review["oldObject"]
    """))
    write("static.rego", rego_policy("static", "t.static", """
        deny contains "user" if input.review.userInfo.username == "mallory"
    """))
    old = pod()
    found = _findings(tmp_path, pod({"hostPID": True}), operation="UPDATE", old_object=old,
                      user_info={"username": "mallory"})
    assert sorted(found["dyn"].messages) == ["hostPID is set", "old object present"]
    assert found["static"].messages == ["user"]


def test_pruned_and_unpruned_inputs_give_the_same_findings(tmp_path, write):
    write("labels.rego", rego_policy("labels", "t.labels", """
        deny contains sprintf("missing label %s", [l]) if {
            some l in ["team", "tier"]
            not input.review.object.metadata.labels[l]
        }
    """))
    obj = pod()
    obj["metadata"]["labels"] = {"team": "shop"}
    pruned = _findings(tmp_path, obj)["labels"]
    write("whole.rego", rego_policy("whole", "t.whole", 'deny contains "n" if count(input) < 0'))
    unpruned = _findings(tmp_path, obj)["labels"]
    assert pruned.messages == unpruned.messages == ["missing label tier"]


def test_the_bundle_converts_only_what_its_modules_read(tmp_path, write):
    from pathwarden.engine.rego.embedded import pruned

    write("p.rego", rego_policy("p", "t.p", """
        deny contains "x" if input.review.object.spec.hostNetwork
        deny contains "y" if input.review.object.metadata
    """))
    backend = load_policies([tmp_path], builtin=False).backend
    document = make_target(pod({"hostNetwork": True}), operation="UPDATE",
                           old_object=pod()).document
    kept = pruned(document, backend._reads)
    assert kept == {"review": {"object": {
        "spec": {"hostNetwork": True},
        "metadata": document["review"]["object"]["metadata"]}}}
