"""Templates and constraints in policy directories: the policies they become, the load
errors a person gets (file, line, reason), `pathwarden eval`, and the remote OPA backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from pathwarden.engine import Language, PolicyLoadError, Severity, evaluate, load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.k8s import build_inventory, make_target
from pathwarden.engine.rego import embedded_backend, remote_opa_backend

pytest_plugins = ("tests.standins.opa_server",)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "gatekeeper"
POLICIES = EXAMPLES / "policies"
CASES = EXAMPLES / "suites" / "required-labels" / "cases"
REQUIRED_LABELS = (POLICIES / "required-labels" / "template.yaml").read_text(encoding="utf-8")


def problems_of(dirs: list[Path]) -> list[str]:
    with pytest.raises(PolicyLoadError) as caught:
        load_policies(dirs, builtin=False)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_each_constraint_becomes_a_policy_with_metadata_from_template_and_constraint():
    policy_set = load_policies([POLICIES], builtin=False)
    policies = {p.id: p for p in policy_set.policies}
    assert sorted(policies) == [
        "k8sallowedrepos.shop-images-from-acme", "k8simmutablelabels.team-label-is-immutable",
        "k8srequiredlabels.workloads-must-have-owner", "k8suniqueingresshost.unique-ingress-host"]
    labels = policies["k8srequiredlabels.workloads-must-have-owner"]
    assert labels.title == "Required labels" and labels.language is Language.REGO
    assert labels.description.startswith("Objects carry the listed labels")
    assert labels.severity is Severity.HIGH  # pathwarden.dev/severity on the template
    assert labels.remediation == "Add the missing labels to metadata.labels."
    assert labels.tags == ("gatekeeper", "gatekeeper:K8sRequiredLabels")
    assert labels.kinds == ("Deployment", "StatefulSet") and labels.autogen is False
    assert labels.parameters == {"labels": [{"key": "owner", "allowedRegex": "^team-[a-z]+$"}]}
    assert str(labels.location) == f"{POLICIES / 'required-labels' / 'constraint.yaml'}:1"
    repos = policies["k8sallowedrepos.shop-images-from-acme"]
    assert repos.severity is Severity.CRITICAL  # the constraint's annotation
    assert repos.tags[2:] == ("supply-chain", "golden-path:deploy")
    assert policies["k8sallowedrepos.shop-images-from-acme"].inventory is False
    assert policies["k8suniqueingresshost.unique-ingress-host"].inventory is True
    # The template's schema default is filled in.
    assert policies["k8simmutablelabels.team-label-is-immutable"].parameters == {
        "labels": ["owner"], "exemptGroups": ["system:masters"]}
    assert len(policy_set.select(["gatekeeper:K8sAllowedRepos"])) == 1


def test_yaml_that_is_not_gatekeeper_is_ignored(tmp_path):
    shutil.copytree(POLICIES / "required-labels", tmp_path / "p")
    (tmp_path / "p" / "deployment.yaml").write_text((CASES / "deployment-with-owner.yaml")
                                                    .read_text())
    (tmp_path / "p" / "notes.yaml").write_text("just: [text, {unclosed\n")
    assert len(load_policies([tmp_path / "p"], builtin=False)) == 1


def test_rego_that_does_not_parse_names_the_yaml_file_and_line(tmp_path):
    text = REQUIRED_LABELS.replace('count(missing) > 0', 'count(missing) > +* 0')
    path = tmp_path / "template.yaml"
    path.write_text(text)
    problems = problems_of([tmp_path])
    line = line_of(path, "count(missing) > +* 0")
    assert all(p.startswith(f"compile: {path}:{line}: ") for p in problems), problems
    assert any("Invalid arithmetic operator" in p for p in problems)


def test_a_bracket_closed_by_the_wrong_kind_is_found_before_rego_cpp(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(REQUIRED_LABELS.replace('[missing])', '[missing]))'))
    [problem] = problems_of([tmp_path])
    line = line_of(path, "[missing]))")
    assert problem == (f"load: {path}:{line}: K8sRequiredLabels: `)` does not close the `{{` "
                       f"opened on line {line_of(path, 'violation[{')}")


def test_a_constraint_without_its_template(tmp_path):
    shutil.copy(POLICIES / "required-labels" / "constraint.yaml", tmp_path / "c.yaml")
    shutil.copy(POLICIES / "allowed-repos" / "template.yaml", tmp_path / "t.yaml")
    assert problems_of([tmp_path]) == [
        f"load: {tmp_path / 'c.yaml'}:1: K8sRequiredLabels/workloads-must-have-owner: no "
        "ConstraintTemplate defines kind K8sRequiredLabels (loaded templates: K8sAllowedRepos)"]


def test_parameters_that_do_not_match_the_schema(tmp_path):
    shutil.copy(POLICIES / "required-labels" / "template.yaml", tmp_path / "t.yaml")
    (tmp_path / "c.yaml").write_text("""\
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: bad}
spec:
  parameters:
    message: 42
    labels:
      - {allowedRegex: "^x$"}
""")
    # Each message points at the line of the offending parameter.
    assert problems_of([tmp_path]) == [
        f"load: {tmp_path / 'c.yaml'}:8: K8sRequiredLabels/bad: spec.parameters.labels[0]: "
        "'key' is a required property",
        f"load: {tmp_path / 'c.yaml'}:6: K8sRequiredLabels/bad: spec.parameters.message: "
        "42 is not of type 'string'"]


@pytest.mark.parametrize(("change", "message"), [
    (("name: k8srequiredlabels", "name: required-labels"),
     "ConstraintTemplate: metadata.name must be 'k8srequiredlabels' (the lowercase kind), "
     "as Gatekeeper requires; got 'required-labels'"),
    (("target: admission.k8s.gatekeeper.sh", "target: validation.example.com"),
     "ConstraintTemplate: target 'validation.example.com' is not supported; use "
     "admission.k8s.gatekeeper.sh"),
    (("not parameters.message", "not data.kubernetes.namespaces"),
     "K8sRequiredLabels: data.kubernetes: a template may read only data.inventory and "
     "data.lib.*"),
    (("violation[", "denied["),
     "K8sRequiredLabels: the template's Rego defines no `violation` rule"),
    (("              type: array\n", "              type: arrray\n"),
     "K8sRequiredLabels: openAPIV3Schema is not a valid schema: 'arrray' is not valid"),
])
def test_invalid_templates_are_refused_with_a_reason(tmp_path, change, message):
    old, new = change
    assert old in REQUIRED_LABELS
    (tmp_path / "t.yaml").write_text(REQUIRED_LABELS.replace(old, new))
    [problem] = problems_of([tmp_path])
    assert message in problem
    assert problem.startswith(f"load: {tmp_path / 't.yaml'}:")


def test_a_template_with_only_cel_is_refused(tmp_path):
    (tmp_path / "t.yaml").write_text("""\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8scel}
spec:
  crd: {spec: {names: {kind: K8sCel}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source: {validations: [{expression: "true", message: "x"}]}
""")
    [problem] = problems_of([tmp_path])
    assert "K8sCel has no Rego (engines: ['K8sNativeValidation']); pathwarden runs Rego " \
           "templates only" in problem


def test_a_template_in_code_with_v1_rego_and_libs_loads(tmp_path):
    (tmp_path / "t.yaml").write_text("""\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8snodefaultns}
spec:
  crd: {spec: {names: {kind: K8sNoDefaultNs}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source: {validations: [{expression: "true"}]}
        - engine: Rego
          source:
            version: v1
            rego: |
              package k8snodefaultns
              import rego.v1
              import data.lib.ns.is_default
              violation contains {"msg": "the default namespace is not for workloads"} if {
                is_default(input.review.object)
              }
            libs:
              - |
                package lib.ns
                import rego.v1
                is_default(obj) if obj.metadata.namespace == "default"
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sNoDefaultNs
metadata: {name: no-default}
""")
    policy_set = load_policies([tmp_path], builtin=False)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default"}}
    [finding] = evaluate([make_target(pod)], policy_set)
    assert [v.msg for v in finding.violations] == ["the default namespace is not for workloads"]


def test_two_templates_may_ship_libs_with_the_same_package(tmp_path):
    for kind, word in (("K8sLibA", "first"), ("K8sLibB", "second")):
        (tmp_path / f"{kind}.yaml").write_text(f"""\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {{name: {kind.lower()}}}
spec:
  crd: {{spec: {{names: {{kind: {kind}}}}}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package {kind.lower()}
        violation[{{"msg": data.lib.words.word}}] {{ true }}
      libs:
        - |
          package lib.words
          word = "{word}"
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: {kind}
metadata: {{name: c}}
""")
    policy_set = load_policies([tmp_path], builtin=False)
    findings = evaluate([make_target({"apiVersion": "v1", "kind": "Pod",
                                      "metadata": {"name": "p"}})], policy_set)
    assert sorted(v.msg for f in findings for v in f.violations) == ["first", "second"]


def test_a_duplicate_template_kind_is_an_error(tmp_path):
    shutil.copy(POLICIES / "required-labels" / "template.yaml", tmp_path / "a.yaml")
    shutil.copy(POLICIES / "required-labels" / "template.yaml", tmp_path / "b.yaml")
    [problem] = problems_of([tmp_path])
    assert problem == (f"load: {tmp_path / 'b.yaml'}:3: a ConstraintTemplate for kind "
                       f"K8sRequiredLabels is already defined at {tmp_path / 'a.yaml'}:3")


def test_eval_judges_manifests_with_constraints_and_the_inventory(capsys):
    code = main(["eval", "--no-builtin", "--policies", str(POLICIES), "--format", "json",
                 str(CASES), str(EXAMPLES / "suites" / "unique-ingress-host" / "cases")])
    assert code == 1  # a deny constraint failed
    report = json.loads(capsys.readouterr().out)
    failing = sorted((r["policy"], r["target"]["name"], r["messages"][0])
                     for r in report["results"] if r["status"] == "fail")
    assert failing == [
        ("k8srequiredlabels.workloads-must-have-owner", "web",
         "label owner=bob does not match ^team-[a-z]+$"),
        ("k8srequiredlabels.workloads-must-have-owner", "web",
         'missing required labels: {"owner"}'),
        # The shop Ingress's host is also in the inventory's storefront, and vice versa.
        ("k8suniqueingresshost.unique-ingress-host", "shop",
         "host shop.acme.example is already used by Ingress web/storefront"),
        ("k8suniqueingresshost.unique-ingress-host", "storefront",
         "host shop.acme.example is already used by Ingress shop/shop"),
    ]
    passing = {r["target"]["name"] for r in report["results"]
               if r["policy"].startswith("k8srequiredlabels") and r["status"] == "pass"}
    assert passing == {"web"}  # with owner; kube-system's is excluded by the match


def test_eval_exits_0_when_only_a_warn_constraint_fails(tmp_path, capsys):
    pod = tmp_path / "pod.yaml"
    shutil.copy(EXAMPLES / "suites" / "allowed-repos" / "cases" / "pod-disallowed.yaml", pod)
    assert main(["eval", "--no-builtin", "-p", str(POLICIES), str(pod)]) == 0
    out = capsys.readouterr().out
    assert "k8sallowedrepos.shop-images-from-acme" in out
    assert "container app uses image docker.io/library/nginx:1.27" in out


def test_eval_exits_2_when_a_constraint_does_not_load(tmp_path, capsys):
    shutil.copy(POLICIES / "required-labels" / "constraint.yaml", tmp_path / "c.yaml")
    assert main(["eval", "--no-builtin", "-p", str(tmp_path), str(CASES)]) == 2
    assert "no ConstraintTemplate defines kind K8sRequiredLabels" in capsys.readouterr().err


def test_both_rego_backends_give_the_same_findings(opa_server):
    objects = [doc for path in sorted((EXAMPLES / "suites").rglob("cases/*.yaml"))
               if "constraint" not in path.name and "review" not in path.name
               for doc in yaml.safe_load_all(path.read_text())]
    targets = [make_target(o) for o in objects]
    inventory = build_inventory(objects)
    results = []
    for backend in (embedded_backend, remote_opa_backend(opa_server.url)):
        policy_set = load_policies([POLICIES], builtin=False, backend=backend)
        findings = evaluate(targets, policy_set.with_inventory(inventory))
        results.append([(f.policy_id, f.target.id, f.status, f.violations, f.error)
                        for f in findings])
    assert results[0] == results[1]
    assert {status for _, _, status, _, _ in results[0]} == {"pass", "fail"}
    assert any(p.startswith("/v1/data/pathwarden/gatekeeper/constraints/")
               for _, p in opa_server.requests)
