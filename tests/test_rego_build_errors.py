"""Rego that rego-cpp accepts module by module but refuses when it builds the bundle.

rego-cpp 1.5.2 returns such a bundle with `ok()` false, no interpreter error, and the
reasons only in the bundle's error nodes (and on stderr, which the embedded backend keeps
quiet). These tests pin down that each reason reaches the user as `file:line: reason`:
for `.rego` files, for a Gatekeeper template (the YAML file's line) and its libs, through
the CLI, `pathwarden test` and the webhook's hot reload. A function with two numbers of
arguments, on which rego-cpp crashes the process instead, is refused before the build.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pathwarden.engine import PolicyLoadError, load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.errors import Problem
from pathwarden.engine.model import Location
from pathwarden.engine.rego.embedded import compile_problems

from .conftest import rego_policy
from .webhook_support import make_certs, pod, review, running_webhook, wait_for

BRACKET = "Invalid bracket argument"


def problems_of(*dirs: Path) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policies(list(dirs), builtin=False)
    return [str(p) for p in caught.value.problems]


def position_of(path: Path, needle: str) -> tuple[int, int]:
    """1-based line and column of the first `needle` in the file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def write_policy(root: Path, name: str, body: str) -> Path:
    path = root / f"{name}.rego"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rego_policy(f"acme-{name}", f"acme.{name}", body), encoding="utf-8")
    return path


def test_a_wildcard_ref_in_a_negated_call_names_file_line_and_column(tmp_path):
    path = write_policy(tmp_path, "prefixes", """
        deny contains "a name starts with x" if {
            not startswith(input.review.object.metadata.names[_], "x")
        }
    """)
    line, column = position_of(path, "[_]")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"compile: {path}:{line}: {BRACKET} (column {column + 1}): ")
    assert "count([1 | v := x[_]; f(v)]) == 0" in problem  # what to write instead


def test_every_failing_statement_of_every_module_is_reported(tmp_path):
    first = write_policy(tmp_path, "one", """
        deny contains "x" if {
            s := {input.review.object.metadata.names[_]}
            count(s) > 1
        }
    """)
    second = write_policy(tmp_path, "two", """
        warn contains "y" if {
            o := {"a": input.review.object.metadata.labels[_]}
            count(o) > 1
        }
    """)
    problems = problems_of(tmp_path)
    assert len(problems) == 2, problems
    for path in (first, second):
        line, _ = position_of(path, "[_]")
        assert any(p.startswith(f"compile: {path}:{line}: {BRACKET}") for p in problems)


# What rego-cpp 1.5.2 gives for `f(x) := x` and `f(x, y) := y` in one package (when it
# does not crash): the error node has no location, the first located node of its AST does.
UNLOCATED = """(error
  (errormsg 28:Unable to unify due to cycle)
  (errorast
    (rego-exprunify
      (rego-expr
        (rego-term 10:pol/a.rego|26|1
          (rego-unifyvar |26|1:y)))
      (rego-expr
        (rego-term
          (rego-var 0:)))))
  (rego-errorcode))
"""


def test_an_error_without_a_location_of_its_own_is_placed_by_its_ast():
    text = "package t\n\nf(x) := x\nf(x, y) := y\n"
    assert compile_problems(UNLOCATED, {"pol/a.rego": text}, None) == [Problem(
        "compile", "Unable to unify due to cycle (column 6)", Location("pol/a.rego", 4))]


def test_a_function_with_two_numbers_of_arguments_is_refused_before_the_build(tmp_path):
    # rego-cpp 1.5.2 aborts or segfaults building this bundle (seen in a subprocess), so
    # the loader must never hand it over.
    path = write_policy(tmp_path, "arity", """
        pick(x) := x

        pick(x, y) := y

        pick(x, y) := x if x == y

        deny contains "z" if pick(input.review.object.kind) == "Pod"
    """)
    first, _ = position_of(path, "pick(x) := x")
    second, _ = position_of(path, "pick(x, y) := y")
    third, _ = position_of(path, "pick(x, y) := x if")
    problems = problems_of(tmp_path)
    assert problems == [
        f"compile: {path}:{line}: function pick takes 2 arguments here but 1 argument at "
        f"{path}:{first}: a function has one number of arguments (rego-cpp 1.5.2 would "
        "crash on this)" for line in (second, third)]


def test_lines_and_columns_count_characters_after_non_ascii_text(tmp_path):
    # rego-cpp's offsets count UTF-8 bytes; the message counts lines and characters.
    path = write_policy(tmp_path, "accents", """
        # Prüfung: keine Namen mit x am Anfang, größer als 5 µm
        deny contains "ä" if {
            not startswith(input.review.object.metadata.names[_], "x")
        }
    """)
    line, column = position_of(path, "[_]")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"compile: {path}:{line}: {BRACKET} (column {column + 1})")


TEMPLATE = """\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sprefixes
spec:
  crd:
    spec:
      names:
        kind: K8sPrefixes
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sprefixes

        import data.lib.names

        violation[{"msg": msg}] {
          name := input.review.object.metadata.name
          not names.allowed(name, input.parameters.prefixes)
          msg := sprintf("%v has none of the allowed prefixes", [name])
        }
      libs:
        - |
          package lib.names

          allowed(name, prefixes) {
            startswith(name, prefixes[_])
          }
"""
CONSTRAINT = """\
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPrefixes
metadata:
  name: shop
spec:
  parameters:
    prefixes: ["shop-"]
"""


def test_a_gatekeeper_template_error_names_the_yaml_line(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace(
        "          not names.allowed(name, input.parameters.prefixes)\n",
        "          not names.allowed(name, input.parameters.prefixes)\n"
        "          not startswith(name, input.parameters.banned[_])\n"), encoding="utf-8")
    (tmp_path / "constraint.yaml").write_text(CONSTRAINT, encoding="utf-8")
    line, _ = position_of(path, "input.parameters.banned[_]")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"compile: {path}:{line}: {BRACKET} (column "), problem


def test_an_error_in_a_template_lib_is_reported_in_the_yaml_file(tmp_path):
    # The lib is a module of its own (`template.yaml#K8sPrefixes.libs[0]`); the message
    # names the YAML file, its line, and which lib.
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("startswith(name, prefixes[_])",
                                     "not startswith(name, prefixes[_])"), encoding="utf-8")
    (tmp_path / "constraint.yaml").write_text(CONSTRAINT, encoding="utf-8")
    line, _ = position_of(path, "not startswith(name, prefixes[_])")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"compile: {path}:{line}: {BRACKET} (column "), problem
    assert problem.endswith("(in K8sPrefixes.libs[0])")


def test_the_template_without_the_fault_loads(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "constraint.yaml").write_text(CONSTRAINT, encoding="utf-8")
    assert len(load_policies([tmp_path], builtin=False)) == 1


def test_eval_and_policies_exit_2_with_file_and_line(tmp_path, capsys):
    policies = tmp_path / "policies"
    path = write_policy(policies, "prefixes", """
        deny contains "x" if {
            not startswith(input.review.object.metadata.names[_], "x")
        }
    """)
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n", encoding="utf-8")
    line, _ = position_of(path, "[_]")
    for command in (["eval", "--no-builtin", "-p", str(policies), str(manifest)],
                    ["policies", "--no-builtin", "-p", str(policies)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"compile: {path}:{line}: {BRACKET}" in err, err
        assert "could not build the bundle" not in err


def test_pathwarden_test_names_the_policy_file(tmp_path, capsys):
    path = write_policy(tmp_path, "prefixes", """
        deny contains "x" if {
            not startswith(input.review.object.metadata.names[_], "x")
        }
    """)
    (tmp_path / "prefixes_test.rego").write_text(
        "package acme.prefixes_test\n\nimport rego.v1\n\n"
        "test_nothing_denied if count(data.acme.prefixes.deny) == 0\n", encoding="utf-8")
    line, _ = position_of(path, "[_]")
    assert main(["test", str(tmp_path)]) == 2
    assert f"compile: {path}:{line}: {BRACKET}" in capsys.readouterr().err


LABEL_POLICY = '''
# METADATA
# title: Team label
# custom:
#   id: acme-team-label
#   kinds: [Pod]
package acme.team_label

import rego.v1

deny contains "pod has no team label" if not input.review.object.metadata.labels.team
'''
BROKEN_EDIT = LABEL_POLICY + '''
deny contains "a label value starts with x" if {
\tnot startswith(input.review.object.metadata.labels[_], "x")
}
'''


def test_the_webhook_keeps_the_old_set_and_names_the_line(tmp_path):
    certs = make_certs(tmp_path / "certs")
    policies = tmp_path / "policies"
    policies.mkdir()
    path = policies / "team_label.rego"
    path.write_text(textwrap.dedent(LABEL_POLICY).lstrip(), encoding="utf-8")
    unlabelled = pod(labels={"app.kubernetes.io/name": "web"})
    with running_webhook(certs, policy_dirs=[policies], builtin=False) as webhook:
        assert webhook.admit(review(unlabelled))["allowed"] is False
        path.write_text(textwrap.dedent(BROKEN_EDIT).lstrip(), encoding="utf-8")
        wait_for(lambda: 'pathwarden_webhook_policy_reloads_total{result="failure"} 1.0'
                 in webhook.metrics(), "the rejected reload")
        ready = webhook.client.get("/readyz").json()
        line, _ = position_of(path, "[_]")
        assert ready["generation"] == 1
        assert f"{path}:{line}: {BRACKET}" in ready["last_reload_error"]
        assert webhook.admit(review(unlabelled))["allowed"] is False  # the old set serves


def test_error_text_without_any_known_location():
    # An error whose nodes name no loaded module keeps rego-cpp's reason, unlocated.
    text = ("(rego-errorseq\n  (error\n    (errormsg 11:Bad thing 1)\n"
            "    (errorast\n      (rego-term 7:builtin|3|4))\n    (rego-errorcode)))")
    assert compile_problems(text, {"a.rego": "package a\n"}, None) == [
        Problem("compile", "Bad thing 1")]
    assert compile_problems(text, {}, "a.rego") == [
        Problem("compile", "Bad thing 1", Location("a.rego"))]
    assert compile_problems("not an S-expression", {}, None) == [
        Problem("compile", "not an S-expression")]
