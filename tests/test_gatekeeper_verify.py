"""`pathwarden verify`: Gatekeeper test suites, their output and exit codes (like gator)."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
from pathwarden.engine.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "gatekeeper"
SUITES = EXAMPLES / "suites"
TIME = r"\((\d+\.\d+(µs|ms|s))\)"


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["verify", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_the_example_suites_pass(capsys):
    code, lines, _ = verify(capsys, str(SUITES))
    assert code == 0
    assert lines[-1] == "PASS"
    suites = [line.split("\t")[1] for line in lines if line.startswith("ok\t")]
    assert suites == [str(SUITES / name / "suite.yaml") for name in (
        "allowed-repos", "immutable-labels", "invalid", "required-labels",
        "unique-ingress-host")]
    assert not [line for line in lines if "FAIL" in line]


def test_each_case_and_test_gets_a_result_line_with_its_time(capsys):
    code, lines, _ = verify(capsys, str(SUITES / "immutable-labels" / "suite.yaml"))
    assert code == 0
    assert [re.sub(TIME, "(T)", line) for line in lines[:5]] == [
        "    --- PASS: update-changes-owner\t(T)",
        "    --- PASS: update-by-cluster-admin\t(T)",
        "    --- PASS: update-keeps-owner\t(T)",
        "    --- PASS: create-is-not-judged\t(T)",
        "--- PASS: team-label-is-immutable\t(T)",
    ]
    assert re.fullmatch(rf"ok\t{re.escape(str(SUITES / 'immutable-labels' / 'suite.yaml'))}"
                        r"\t\d+\.\d+(µs|ms|s)", lines[5])


def test_skipped_cases_and_invalid_tests(capsys):
    code, lines, _ = verify(capsys, str(SUITES / "allowed-repos"))
    assert code == 0
    assert "    --- SKIP: a-skipped-case" in lines
    assert any(line.startswith("--- PASS: repos-must-be-a-list\t") for line in lines)


def test_verbose_adds_run_lines(capsys):
    code, lines, _ = verify(capsys, "-v", str(SUITES / "required-labels"))
    assert code == 0
    assert lines[0] == "=== RUN   workloads-must-have-owner"
    assert lines[1] == "    === RUN   owner-label-present"


def copy_suite(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(SUITES / name, target)
    shutil.copytree(EXAMPLES / "policies", tmp_path.parent / "policies", dirs_exist_ok=True)
    return target


def test_a_failing_assertion_fails_the_case_test_suite_and_run(tmp_path, capsys):
    suite_dir = copy_suite(tmp_path / "suites", "required-labels")
    suite = suite_dir / "suite.yaml"
    suite.write_text(suite.read_text().replace(
        "          - violations: 1\n          - message: missing required labels",
        "          - violations: 2\n          - message: missing required labels"))
    code, lines, _ = verify(capsys, str(suite))
    assert code == 1
    assert lines[-1] == "FAIL"
    at = lines.index(next(line for line in lines if "--- FAIL: owner-label-missing" in line))
    assert lines[at + 1] == ("        got 1 violations but want exactly 2: got messages "
                             "['missing required labels: {\"owner\"}']")
    assert any(line.startswith("--- FAIL: workloads-must-have-owner\t(") for line in lines)
    assert lines[-2].startswith(f"FAIL\t{suite}\t")
    assert "    --- PASS: owner-label-present" in "\n".join(lines)


def test_message_assertions_count_only_matching_violations(tmp_path, capsys):
    suite_dir = copy_suite(tmp_path / "suites", "allowed-repos")
    suite = suite_dir / "suite.yaml"
    suite.write_text(suite.read_text().replace(
        'message: "container setup uses image quay.io/acme/setup:2"',
        'message: "container setup uses image docker"'))
    code, lines, _ = verify(capsys, str(suite))
    assert code == 1
    assert ('        got 0 violations containing "container setup uses image docker" but '
            "want exactly 1: got messages [") in "\n".join(lines)


def test_an_invalid_test_whose_objects_load_fails(tmp_path, capsys):
    suite_dir = copy_suite(tmp_path / "suites", "invalid")
    suite = suite_dir / "suite.yaml"
    suite.write_text(suite.read_text().replace("constraint: bad-parameters.yaml",
                                               "constraint: ../../policies/required-labels/"
                                               "constraint.yaml"))
    code, lines, _ = verify(capsys, str(suite))
    assert code == 1
    at = lines.index(next(line for line in lines
                          if line.startswith("--- FAIL: parameters-against-the-schema")))
    assert lines[at + 1] == ("  the template and constraint load, but the test expects them "
                             "to be invalid (invalid: true)")


def write_suite(tmp_path: Path, body: str) -> Path:
    shutil.copytree(EXAMPLES / "policies", tmp_path / "policies")
    shutil.copytree(SUITES / "required-labels" / "cases", tmp_path / "cases")
    path = tmp_path / "suite.yaml"
    path.write_text("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n" +
                    textwrap.indent(textwrap.dedent(body), "  "))
    return path


def test_a_test_that_does_not_load_reports_the_problem(tmp_path, capsys):
    suite = write_suite(tmp_path, """\
        - name: wrong-pair
          template: policies/allowed-repos/template.yaml
          constraint: policies/required-labels/constraint.yaml
          cases:
            - {name: c, object: cases/deployment-with-owner.yaml, assertions: [{violations: no}]}
        - name: missing-file
          template: policies/nope.yaml
          constraint: policies/required-labels/constraint.yaml
          invalid: true
        """)
    code, lines, _ = verify(capsys, str(suite))
    assert code == 1
    text = "\n".join(lines)
    assert "--- FAIL: wrong-pair\t(" in text
    assert "  the template or constraint does not load:\n    load: " in text
    assert "no ConstraintTemplate defines kind K8sRequiredLabels" in text
    # A missing file is an error even for a test that expects invalid objects.
    assert f"  template {tmp_path / 'policies' / 'nope.yaml'}: no such file" in text


def test_case_errors_are_reported_per_case(tmp_path, capsys):
    (tmp_path / "two.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n"
                                       "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n")
    suite = write_suite(tmp_path, """\
        - name: t
          template: policies/required-labels/template.yaml
          constraint: policies/required-labels/constraint.yaml
          cases:
            - {name: no-assertions, object: cases/deployment-with-owner.yaml}
            - {name: two-objects, object: two.yaml, assertions: [{violations: no}]}
            - {name: bad-count, object: cases/deployment-with-owner.yaml,
               assertions: [{violations: maybe}]}
            - {name: empty-review, object: review.yaml, assertions: [{violations: no}]}
        """)
    (tmp_path / "review.yaml").write_text("apiVersion: admission.k8s.io/v1\n"
                                          "kind: AdmissionReview\nrequest: {uid: x}\n")
    code, lines, _ = verify(capsys, str(suite))
    assert code == 1
    errors = {lines[i].split(": ", 1)[1].split("\t")[0]: lines[i + 1].strip()
              for i, line in enumerate(lines) if line.startswith("    --- FAIL")}
    assert errors == {
        "no-assertions": "assertions must be a non-empty list",
        "two-objects": "two.yaml defines 2 objects; a case reviews one",
        "bad-count": 'assertion violations must be a nonnegative integer, "yes" or "no"',
        "empty-review": 'the AdmissionRequest holds no "object" or "oldObject" to review',
    }


def test_a_delete_review_is_judged_on_its_old_object(tmp_path, capsys):
    review = (SUITES / "immutable-labels" / "cases" / "review-update-owner-changed.yaml"
              ).read_text().replace("operation: UPDATE", "operation: DELETE")
    deleted = review[:review.index("  object:")] + review[review.index("  oldObject:"):]
    (tmp_path / "delete.yaml").write_text(deleted.replace("labels: {owner: team-shop}",
                                                          "labels: {tier: web}"))
    suite = write_suite(tmp_path, """\
        - name: t
          template: policies/required-labels/template.yaml
          constraint: policies/required-labels/constraint.yaml
          cases:
            - {name: delete, object: delete.yaml,
               assertions: [{violations: 1, message: "missing required labels"}]}
        """)
    code, lines, _ = verify(capsys, str(suite))
    assert code == 0, lines
    assert lines[0].startswith("    --- PASS: delete\t")


@pytest.mark.parametrize(("run", "ran"), [
    ("owner-label-missing", ["owner-label-missing"]),
    ("workloads-must-have-owner//regex", ["owner-label-does-not-match-regex"]),
    ("^nothing$//present", []),
    ("present|kind", ["owner-label-present", "kind-not-matched"]),
])
def test_run_filters_tests_and_cases(capsys, run, ran):
    code, lines, _ = verify(capsys, "--run", run, str(SUITES / "required-labels"))
    assert code == 0
    passed = [line.split(": ", 1)[1].split("\t")[0] for line in lines
              if line.startswith("    --- PASS")]
    assert passed == ran


@pytest.mark.parametrize(("args", "message"), [
    (["--run", "a//b//c", "x"], 'a --run filter may include at most one "//"'),
    (["--run", "(", str(SUITES)], "--run '(' is not a valid regular expression"),
    (["no/such/dir"], "no/such/dir: no such file or directory"),
    ([str(EXAMPLES / "policies")], "no test suites (kind: Suite, apiVersion: "
                                   "test.gatekeeper.sh/v1alpha1) found in"),
])
def test_usage_errors_exit_2(capsys, args, message):
    code, lines, err = verify(capsys, *args)
    assert code == 2
    assert message in err
    assert lines == []


def test_gator_style_recursive_paths_are_accepted(capsys, monkeypatch):
    monkeypatch.chdir(SUITES)
    code, lines, _ = verify(capsys, "unique-ingress-host/...")
    assert code == 0
    assert lines[-2].startswith("ok\tunique-ingress-host/suite.yaml\t")
