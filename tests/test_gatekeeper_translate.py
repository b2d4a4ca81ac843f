"""Rego v0 -> v1 for Gatekeeper templates: every head form, on the parsed structure.

Each form is checked twice: the text that comes out (so a reader sees the rewrite) and
what rego-cpp computes from it (so the meaning is proven, not only the spelling). The
tricky cases are the ones a line regex gets wrong: heads over several lines, braces in
strings, raw strings and comments, `else` chains, two bodies on one rule.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import regopy
from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.gatekeeper.translate import TranslationError, translate
from pathwarden.engine.k8s import make_target
from pathwarden.engine.rego.source import read_source


def query(module: str, expression: str, document: dict[str, Any] | None = None) -> Any:
    """The value of `expression` (a rule of package `t`) with `document` as input."""
    interp = regopy.Interpreter()
    interp.add_module("t.rego", module)
    interp.set_input_term(json.dumps(document or {}))
    out = interp.query(f"x := {expression}")
    text = str(out)
    return None if text == "undefined" else json.loads(text)["bindings"]["x"]


def v1(text: str) -> str:
    """The translation with the header cut off, to compare the rewritten lines."""
    out = translate("package t\n" + text)
    return out.split("\n", 2)[2].split("\n", 1)[1]


@pytest.mark.parametrize(("v0", "expected"), [
    ("p { true }", "p if { true }"),
    ("p = 7 { true }", "p := 7 if { true }"),
    ("p = 7", "p := 7"),
    ("p[x] { x := 1 }", "p contains x if { x := 1 }"),
    ("p[k] = v { k := \"a\"; v := 1 }", "p[k] := v if { k := \"a\"; v := 1 }"),
    ("f(x) { x > 1 }", "f(x) if { x > 1 }"),
    ("f(x) = y { y := x + 1 }", "f(x) := y if { y := x + 1 }"),
    ("f(x) = x", "f(x) := x"),
    ("default p = false", "default p := false"),
    ("p = 1 { false } else = 2 { true }", "p := 1 if { false } else := 2 if { true }"),
    ("f(x) { x > 1 } else { true }", "f(x) if { x > 1 } else if { true }"),
    ("p.q[x] { x := 1 }", "p.q contains x if { x := 1 }"),
])
def test_each_v0_head_form_is_rewritten_in_place(v0, expected):
    assert v1(v0 + "\n") == expected + "\n"


@pytest.mark.parametrize(("v0", "expression", "value"), [
    ("p { true }", "data.t.p", True),
    ("p = 7 { true }", "data.t.p", 7),
    ("p[x] { x := [1, 2][_] }", "data.t.p", [1, 2]),
    ("p[k] = v { some k, v in {\"a\": 1, \"b\": 2} }", "data.t.p", {"a": 1, "b": 2}),
    ("f(x) = y { y := x * 2 }", "data.t.f(4)", 8),
    ("f(x) { x > 1 }\ng := f(2)", "data.t.g", True),
    ("default p = \"none\"\np = \"some\" { input.x }", "data.t.p", "none"),
    ("f(x) = 1 { x > 5 } else = 2 { x > 2 } else = 3 { true }",
     "[data.t.f(9), data.t.f(4), data.t.f(0)]", [1, 2, 3]),
    ("p[x] { x := 1 } { x := 2 }", "data.t.p", [1, 2]),
    ("c = {\"a\": [1, {\"b\": 2}]}", "data.t.c", {"a": [1, {"b": 2}]}),
])
def test_the_translation_means_what_the_v0_rule_meant(v0, expression, value):
    module = translate("package t\nimport future.keywords.in\n" + v0 + "\n")
    result = query(module, expression)
    assert (sorted(result) if isinstance(value, list) and expression == "data.t.p"
            else result) == value


def test_a_multi_line_head_with_braces_in_strings_and_comments():
    text = '''package t

# violation[{"msg": m}] { this is a comment, not a rule {
violation[{
  "msg": msg,  # a comment inside the head: { [ (
  "details": {"brace": "}{", "raw": `]}`},
}] {
  msg := "closing } inside a string"
}
'''
    out = translate(text)
    assert "violation contains {\n" in out
    assert '`]}`},\n} if {\n  msg := "closing } inside a string"' in out
    assert "# violation[{\"msg\": m}] { this is a comment" in out  # comments untouched
    assert query(out, "data.t.violation") == [
        {"msg": "closing } inside a string", "details": {"brace": "}{", "raw": "]}"}}]


def test_raw_strings_over_several_lines_keep_their_braces():
    text = 'package t\n\nmsgs[m] {\n  m := `first {\n  second }`\n}\n'
    out = translate(text)
    assert "msgs contains m if {" in out
    assert query(out, "data.t.msgs") == ["first {\n  second }"]


def test_every_line_stays_on_its_line_so_errors_point_at_the_template():
    text = "package t\n\nimport future.keywords.in\n\ndefault p = 1\n\nq[x] {\n  x := 2\n}\n"
    out = translate(text, package="renamed.t", first_line=20)
    lines = out.split("\n")
    assert lines[:2] == ["package renamed.t", "import rego.v1"]
    # Line N of the text is line 20 + N - 1 of the result (the YAML file's line).
    assert lines[20 + 5 - 2] == "default p := 1"
    assert lines[20 + 7 - 2] == "q contains x if {"
    assert lines[20 + 3 - 2] == ""  # the future.keywords import is gone, its line kept
    assert lines[20 - 1].strip() == ""  # the original package line is blanked


def test_v1_modules_come_out_unchanged_but_for_package_and_imports():
    text = ('package t\n\nimport rego.v1\n\ndeny contains msg if {\n  msg := "x"\n}\n\n'
            'f(x) := y if {\n  y := x\n} else := 0\n\ndefault d := false\n')
    out = translate(text)
    assert out.count("import rego.v1") == 1
    assert out.split("\n", 2)[2].strip() == text.replace("package t", "").replace(
        "import rego.v1", "").strip()


def test_the_v0_heads_the_loader_refuses_are_all_gone():
    text = ("package t\nviolation[{\"msg\": m}] { m := \"a\" }\nallow { true }\n"
            "f(x) = y { y := x }\nobj[k] = v { k := \"a\"; v := 1 }\n")
    assert read_source(text).v0_heads  # what rego-cpp would silently misread ...
    assert read_source(translate(text)).v0_heads == []  # ... is left nowhere


def test_builtins_removed_from_rego_v1_are_replaced_by_equivalents():
    text = '''package t

t_re = re_match("^a+$", "aaa")
t_any = any([false, true])
t_any_none = any([])
t_all = all([true, true])
t_all_false = all([true, false])
t_diff = set_diff({1, 2, 3}, {2})
'''
    out = translate(text)
    for removed in ("re_match(", "any(", "all(", "set_diff("):
        assert removed not in out
    values = query(out, "data.t")
    assert values["t_re"] is True and values["t_any"] is True
    assert values["t_any_none"] is False and values["t_all"] is True
    assert values["t_all_false"] is False and sorted(values["t_diff"]) == [1, 3]


def test_a_rule_of_the_template_named_like_a_builtin_is_left_alone():
    out = translate("package t\nany(x) = 42 { true }\np = any(1)\n")
    assert "any(1)" in out
    assert query(out, "data.t.p") == 42


def test_sprintf_values_can_be_routed_through_a_function():
    out = translate('package t\np = sprintf("%v-%v", [concat(",", ["a", "b"]), 1])\n',
                    sprintf_args="data.lib.f")
    assert 'sprintf("%v-%v", data.lib.f([concat(",", ["a", "b"]), 1]))' in out


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("package t\n\np {\n  x := [1, 2)\n}\n", 4, "`)` does not close the `[` opened on line 4"),
    ("package t\n\np {\n  true\n", 3, "`{` is never closed"),
    ("package t\n\n}\n", 3, "`}` closes nothing"),
    ("package t\n\n\"oops\"\n", 3, "unexpected `\"oops\"` where a rule should start"),
    ("package t\n\ndefault p\n", 3, "`default` rule without a value"),
    ("p { true }\n", 1, "no package declaration"),
])
def test_untranslatable_text_is_an_error_with_its_line(text, line, reason):
    with pytest.raises(TranslationError) as caught:
        translate(text)
    assert str(caught.value) == reason
    assert caught.value.line == line


EVERY_FORM = '''\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8severyform
spec:
  crd:
    spec:
      names:
        kind: K8sEveryForm
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8severyform

        import future.keywords.in
        import future.keywords.if

        default limit = 2

        limit = 1 { input.review.object.metadata.labels.strict == "true" }

        too_many { count(names) > limit }

        names[name] { name := input.review.object.spec.containers[_].name }

        images[name] = image {
          some container in input.review.object.spec.containers
          name := container.name
          image := container.image
        }

        tag(image) = t {
          parts := split(image, ":")
          count(parts) > 1
          t := parts[count(parts) - 1]
        } else = "latest" {
          true
        }

        latest(name) { tag(images[name]) == "latest" }

        violation[{"msg": msg}] {
          too_many
          msg := sprintf("%v containers, at most %v", [count(names), limit])
        }

        violation[{
          "msg": msg,   # a multi-line head; "}" in a comment
          "details": {"container": name},
        }] {
          some name in names
          latest(name)
          msg := sprintf("container %v uses the tag latest", [name])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sEveryForm
metadata:
  name: every-form
spec:
  match:
    kinds: [{apiGroups: [""], kinds: ["Pod"]}]
'''


def test_a_template_using_every_head_form_runs_through_the_engine(tmp_path: Path):
    (tmp_path / "every-form.yaml").write_text(EVERY_FORM, encoding="utf-8")
    policy_set = load_policies([tmp_path], builtin=False)

    def messages(labels: dict[str, str], images: list[str]) -> list[str]:
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "namespace": "n", "labels": labels},
               "spec": {"containers": [{"name": f"c{i}", "image": image}
                                       for i, image in enumerate(images)]}}
        [finding] = evaluate([make_target(pod)], policy_set)
        assert finding.error is None
        return sorted(v.msg for v in finding.violations)

    assert messages({}, ["a:1", "b:2"]) == []
    assert messages({}, ["a:1", "b", "c:latest"]) == [
        "3 containers, at most 2", "container c1 uses the tag latest",
        "container c2 uses the tag latest"]
    assert messages({"strict": "true"}, ["a:1", "b:2"]) == ["2 containers, at most 1"]


# --- rego-cpp 1.5.2 workarounds, found running gatekeeper-library templates -------------

def test_a_wildcard_inside_a_call_is_bound_first_in_its_statement():
    # rego-cpp rejects `f(x[_])` ("Invalid bracket argument"); OPA binds the ref first.
    text = '''package t
lowered := {c | c := lower(input.names[_])}
has_a { startswith(input.items[_].name, "a") }
msgs[m] { m := sprintf("<%v>", [input.names[_]]) }
'''
    out = translate(text)
    assert "lowered := {c | __pw_w1 := input.names[_]; c := lower(__pw_w1)}" in out
    assert 'has_a if { __pw_w2 := input.items[_].name; startswith(__pw_w2, "a") }' in out
    assert 'msgs contains m if { __pw_w3 := input.names[_]; m := sprintf("<%v>", ' \
        '[__pw_w3]) }' in out
    document = {"names": ["A", "B"], "items": [{"name": "x"}, {"name": "ab"}]}
    values = query(out, "data.t", document)
    assert sorted(values["lowered"]) == ["a", "b"]
    assert values["has_a"] is True
    assert sorted(values["msgs"]) == ["<A>", "<B>"]


def test_a_statement_continued_after_an_operator_stays_one_statement():
    # `name ==` at the end of a line goes on on the next one; binding the wildcard in
    # front of the second line alone would cut the expression in two.
    text = """package t
deny[msg] {
  name := input.name
  name ==
    lower(input.prefixes[_])
  msg := sprintf("bad %v", [name])
}
"""
    out = translate(text)
    assert "__pw_w1 := input.prefixes[_]; name ==" in out
    assert query(out, "data.t.deny", {"name": "a", "prefixes": ["B", "A"]}) == ["bad a"]
    assert query(out, "data.t.deny", {"name": "c", "prefixes": ["B", "A"]}) == []


def test_a_negated_wildcard_keeps_its_meaning_and_is_left_alone():
    # `not f(x[_])` is "for no element"; a binding in front would make it "for some".
    out = translate('package t\nnone_b { not startswith(input.names[_], "b") }\n'
                    'plain { input.names[_] == "a" }\n')
    assert 'not startswith(input.names[_], "b")' in out
    assert 'plain if { input.names[_] == "a" }' in out  # not inside a call: fine as is


def test_a_fresh_comprehension_variable_is_assigned_not_unified():
    # rego-cpp: `[m | p = ps[_]; m = startswith(name, p)]` with `name` a variable of the
    # rule fails with "Unable to unify due to cycle"; `:=` means the same for fresh vars.
    text = '''package t
ok[name] {
  name := input.names[_]
  matches := [m | p = input.prefixes[_]; m = startswith(name, p)]
  any(matches)
}
filtered[x] { x := input.names[_]; same := [x | x = input.names[_]] }
'''
    out = translate(text)
    assert "[m | p := input.prefixes[_]; m := startswith(name, p)]" in out
    assert "[x | x = input.names[_]]" in out  # `x` is the rule's: a comparison, kept
    document = {"names": ["ab", "cd"], "prefixes": ["a", "x"]}
    assert query(out, "data.t.ok", document) == ["ab"]


def test_edits_inside_a_second_rule_body_move_with_it():
    # A second body holding a rewritten call used to fail with "overlapping edits".
    out = translate('package t\np[x] { x := 1 } {\n  x := any([false, true])\n}\n',
                    sprintf_args="data.lib.f")
    lines = out.split("\n")
    assert lines[3].rstrip() == "p contains x if { x := 1 }"  # its lines stay, blanked
    assert lines[4].strip() == "" and lines[5].strip() == ""
    assert out.endswith("\np contains x if {\n  x := (true in [false, true])\n}\n")
    assert sorted(query(out, "data.t.p"), key=str) == [1, True]


def test_builtins_can_be_called_through_replacements():
    out = translate('package t\np := trim(" a ", " ")\nq := trim_left("xa", "x")\n',
                    compat={"trim": "data.lib.trim_cut", "trim_left": "data.lib.left"})
    assert 'p := data.lib.trim_cut(" a ", " ")' in out
    assert 'q := data.lib.left("xa", "x")' in out


QUOTES = '''\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8squotes
spec:
  crd:
    spec:
      names:
        kind: K8sQuotes
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8squotes

        violation[{"msg": msg}] {
          names := [c.name | c := input.review.object.spec.containers[_]]
          msg := trim(sprintf("containers %v ", [names]), " ")
        }

        violation[{"msg": msg}] {
          msg := sprintf("<%v>", [concat("", ["say ", "\\"hi\\""])])
        }

        violation[{"msg": msg}] {
          msg := trim_right(sprintf("%v--", [upper("x")]), "-")
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sQuotes
metadata:
  name: quotes
'''


def test_strings_with_quotes_made_by_trim_and_concat_come_out_readable(tmp_path: Path):
    # rego-cpp writes the result of trim unescaped (`"containers ["a"]"` is not JSON), and
    # a concat result inside sprintf used to pass through trim on its way in.
    (tmp_path / "quotes.yaml").write_text(QUOTES, encoding="utf-8")
    policy_set = load_policies([tmp_path], builtin=False)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
           "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]}}
    [finding] = evaluate([make_target(pod)], policy_set)
    assert finding.error is None
    assert sorted(v.msg for v in finding.violations) == [
        '<say "hi">', 'X', 'containers ["a", "b"]']


def test_a_variable_assigned_by_iterating_is_unified_so_rego_cpp_survives_keying_by_it():
    # rego-cpp 1.5.2 crashes the process on `v := a[_]` followed by `t[v]`; with `v = a[_]`
    # (the same for OPA: `:=` declares a variable that is fresh in the body) it does not.
    text = '''package t
limits[msg] {
  name := input.names[_]
  limit := input.limits[name]
  msg := sprintf("%v: %v", [name, limit])
}
heads[c] { c := input.names[_] }
inner := {x | n := input.names[_]; x := input.limits[n]}
'''
    out = translate(text)
    assert "  name = input.names[_]\n  limit = input.limits[name]\n" in out
    assert "heads contains c if { c := input.names[_] }" in out  # a head variable: kept
    assert "{x | n := input.names[_]; x := input.limits[n]}" in out  # a comprehension's own
    # Evaluated in a child process: a regression would kill the process, not fail a test.
    script = f"""
import json, regopy
i = regopy.Interpreter()
i.add_module("t.rego", {out!r})
i.set_input_term(json.dumps({{"names": ["a", "b"], "limits": {{"a": 1}}}}))
print(i.query("x := data.t.limits"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bindings"]["x"] == ["a: 1"]
