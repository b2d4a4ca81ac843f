"""Manifests on disk and the CLI as a user runs it: exit codes, messages, formats."""

from __future__ import annotations

import json
from pathlib import Path

from pathwarden.engine.cli.main import main
from pathwarden.engine.sources.manifests import read_manifests

ROOT = Path(__file__).resolve().parents[1]
GOOD_POD = """
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: default}
spec:
  automountServiceAccountToken: false
  containers:
    - name: app
      image: app:1.0
"""


def test_multi_document_yaml_json_and_lists_become_targets_with_lines(write, tmp_path):
    write("m/a.yaml", GOOD_POD + "---\n" + GOOD_POD.replace("name: ok", "name: two"))
    write("m/sub/b.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]}))
    found = read_manifests([tmp_path / "m"])
    assert [(o["metadata"]["name"], loc.line) for o, loc in found.objects] == [
        ("ok", 1), ("two", 11), ("c", 1)]
    assert found.problems == []


def test_malformed_yaml_names_file_and_line_and_the_rest_is_still_read(write):
    bad = write("m/bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n")
    write("m/good.yaml", GOOD_POD)
    found = read_manifests([bad.parent])
    assert [o["metadata"]["name"] for o, _ in found.objects] == ["ok"]
    assert "bad.yaml:" in str(found.problems[0]) and "invalid YAML" in str(found.problems[0])


def test_eval_exits_1_when_a_deny_policy_fails(write, capsys):
    path = write("pod.yaml", GOOD_POD.replace("app:1.0", "app:latest"))
    assert main(["eval", str(path), "--select", "golden-image-tag"]) == 1
    assert "golden-image-tag" in capsys.readouterr().out


def test_eval_exits_0_when_only_warnings_fail(write):
    path = write("pod.yaml", GOOD_POD)
    assert main(["eval", str(path), "--select", "golden-probes"]) == 0


def test_eval_exits_2_on_malformed_input_and_names_it(write, capsys):
    path = write("bad.yaml", "kind: [\n")
    assert main(["eval", str(path)]) == 2
    captured = capsys.readouterr()
    assert "bad.yaml" in captured.out + captured.err


def test_eval_exits_2_when_a_policy_does_not_compile(write, capsys):
    write("pol/p.rego", "# METADATA\n# custom:\n#   id: x\npackage x\n\nimport rego.v1\n\n"
          "deny contains x if { x := }\n")
    path = write("pod.yaml", GOOD_POD)
    assert main(["eval", str(path), "--policies", str(path.parent / "pol")]) == 2
    assert "p.rego:8" in capsys.readouterr().err


def test_policies_lists_the_builtin_library_as_json(capsys):
    assert main(["policies", "--format", "json", "--select", "golden-*"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"golden-image-tag", "golden-resources"} <= {r["id"] for r in rows}


def test_pathwarden_test_runs_rego_and_python_tests_like_opa_test(capsys):
    assert main(["test", "-v", str(ROOT / "examples" / "org-policies")]) == 0
    out = capsys.readouterr().out
    assert "test_namespace_without_team_fails: PASS" in out and "PASS: 2/2" in out


def test_pathwarden_test_fails_on_a_failing_rego_test(write, capsys, tmp_path):
    write("t/p.rego", (ROOT / "examples/org-policies/team_label.rego").read_text())
    write("t/p_test.rego", """
        package acme.namespace_team_test

        import rego.v1

        import data.acme.namespace_team

        test_wrong if {
        \tcount(namespace_team.deny) == 5 with input as {"review": {"object": {}}}
        }
    """)
    assert main(["test", str(tmp_path / "t")]) == 1
    assert "test_wrong: FAIL" in capsys.readouterr().out


def test_pathwarden_test_survives_a_rego_cpp_abort_in_one_file(write, capsys, tmp_path):
    write("t/p.rego", """
        # METADATA
        # custom:
        #   id: fmt
        package fmt

        import rego.v1

        deny contains m if { some c in input.cs; m := sprintf("%s", [c]) }
    """)
    write("t/p_test.rego", """
        package fmt_test

        import rego.v1

        test_crashes_rego_cpp if { count(data.fmt.deny) == 1 with input as {"cs": ["a"]} }
    """)
    write("t/py_test.py", "def test_python_still_runs():\n    assert True\n")
    assert main(["test", "-v", str(tmp_path / "t")]) == 1
    out = capsys.readouterr().out
    assert "rego-cpp aborted" in out and "test_python_still_runs: PASS" in out


def test_pathwarden_test_expands_parametrized_dict_cases(tmp_path, capsys):
    (tmp_path / "test_cases.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parametrize('case', [{'a': 1}, {'a': 2}, pytest.param({'a': 3}, id='x')])\n"
        "def test_dict_cases(case):\n    assert case['a'] in (1, 2)\n", encoding="utf-8")
    assert main(["test", str(tmp_path)]) != 0
    out = capsys.readouterr().out
    assert "PASS: 2/3" in out and "test_dict_cases[x]" in out
