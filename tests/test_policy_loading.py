"""Loading policies: every problem is named with file and line; nothing half-loaded is used."""

from __future__ import annotations

import pytest
from pathwarden.engine import PolicyLoadError, load_policies

from .conftest import rego_policy

GOOD = 'deny contains "bad" if input.review.object.spec.hostNetwork'


def _load_error(tmp_path) -> str:
    with pytest.raises(PolicyLoadError) as caught:
        load_policies([tmp_path], builtin=False)
    return str(caught.value)


def test_rego_and_python_policies_load_with_their_metadata(tmp_path, write):
    write("a.rego", rego_policy("pol-a", "t.a", GOOD, severity="high", tags="[x:y]"))
    write("b.py", """
        from pathwarden.engine.rules import rule

        @rule(id="pol-b", title="B", kinds=["Pod"], enforcement="warn", tags=["x:z"])
        def b(doc):
            return []
    """)
    policies = {p.id: p for p in load_policies([tmp_path], builtin=False).policies}
    assert policies["pol-a"].severity == "high" and policies["pol-a"].tags == ("x:y",)
    assert policies["pol-a"].language == "rego"
    assert policies["pol-b"].enforcement == "warn" and policies["pol-b"].language == "python"


def test_a_rego_syntax_error_names_the_file_and_line(tmp_path, write):
    write("bad.rego", rego_policy("pol-a", "t.a", "deny contains x if { x := }"))
    message = _load_error(tmp_path)
    assert "bad.rego:10" in message and "Invalid assignment operator" in message


def test_a_rego_v0_head_is_a_load_error_not_a_silent_pass(tmp_path, write):
    write("v0.rego", rego_policy("pol-a", "t.a", 'deny[msg] { msg := "x" }'))
    message = _load_error(tmp_path)
    assert "v0.rego:10" in message and "Rego v0" in message


def test_an_unknown_builtin_is_a_load_error(tmp_path, write):
    write("u.rego", rego_policy("pol-a", "t.a", "deny contains x if { x := foo.bar(1) }"))
    message = _load_error(tmp_path)
    assert "u.rego:10" in message and "unknown function foo.bar()" in message


def test_a_helper_function_from_a_library_module_is_known(tmp_path, write):
    write("lib.rego", 'package lib.util\n\nimport rego.v1\n\nshout(s) := upper(s)\n')
    write("a.rego", rego_policy("pol-a", "t.a", """
        import data.lib.util
        deny contains util.shout("x") if true
    """))
    assert [p.id for p in load_policies([tmp_path], builtin=False).policies] == ["pol-a"]


@pytest.mark.parametrize(("custom", "expected"), [
    ({"severity": "hihg"}, "'severity' is 'hihg'"),
    ({"enforcement": "block"}, "'enforcement' is 'block'"),
    ({"targets": "[cluster]"}, "targets ['cluster'] unknown"),
    ({"colour": "red"}, "unknown metadata key(s) ['colour']"),
])
def test_invalid_metadata_is_reported_with_the_reason(tmp_path, write, custom, expected):
    write("m.rego", rego_policy("pol-a", "t.a", GOOD, **custom))
    message = _load_error(tmp_path)
    assert "m.rego:1" in message and expected in message


def test_a_duplicate_policy_id_names_both_places(tmp_path, write):
    write("a.rego", rego_policy("same", "t.a", GOOD))
    write("b.rego", rego_policy("same", "t.b", GOOD))
    message = _load_error(tmp_path)
    assert "duplicate policy id 'same'" in message and "a.rego" in message


def test_the_builtin_library_and_an_organisation_directory_combine(tmp_path, write):
    write("a.rego", rego_policy("acme-a", "acme.a", GOOD))
    ids = {p.id for p in load_policies([tmp_path]).policies}
    assert "acme-a" in ids and "golden-image-tag" in ids


def test_a_deny_rule_without_metadata_is_refused(tmp_path, write):
    write("a.rego", f"package t.a\n\nimport rego.v1\n\n{GOOD}\n")
    assert "has no `# METADATA` block" in _load_error(tmp_path)


def test_a_python_policy_that_fails_to_import_names_the_line(tmp_path, write):
    write("p.py", "import os\n\nraise RuntimeError('boom')\n")
    message = _load_error(tmp_path)
    assert "p.py:3" in message and "RuntimeError: boom" in message


def test_one_broken_file_means_nothing_is_loaded(tmp_path, write):
    write("a.rego", rego_policy("pol-a", "t.a", GOOD))
    write("b.rego", rego_policy("pol-b", "t.b", "deny contains x if { x := }"))
    message = _load_error(tmp_path)
    assert "b.rego" in message
