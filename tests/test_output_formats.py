"""The output formats of `pathwarden eval`, judged by what their readers see.

Findings are built by hand so each test states exactly what went in. Schemas used:
- engine/output/pathwarden-results.schema.json: ours, for `--format json`;
- tests/data/output/sarif-schema-2.1.0.json: the SARIF 2.1.0 schema (rtm.5, as published
  by Microsoft in the MIT-licensed npm package @microsoft/jest-sarif; id kept);
- tests/data/output/junit-10.xsd: Jenkins' JUnit schema (MIT, as shipped in pytest's sdist,
  which validates its own junitxml output against it).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from pathwarden.engine.errors import Problem
from pathwarden.engine.model import (
    Enforcement,
    Finding,
    Language,
    Location,
    Policy,
    Severity,
    Status,
    TargetRef,
    Violation,
)
from pathwarden.engine.output import Report, formats, json_format, junit, sarif, table

DATA = Path(__file__).parent / "data" / "output"
PRIVILEGED_PATH = "spec.template.spec.containers[0].securityContext.privileged"


def policy(
    policy_id: str,
    severity: Severity = Severity.HIGH,
    enforcement: Enforcement = Enforcement.DENY,
    *,
    remediation: str | None = None,
    url: str | None = None,
) -> Policy:
    return Policy(
        id=policy_id,
        title=f"Title of {policy_id}",
        description=f"What {policy_id} checks.",
        severity=severity,
        targets=("k8s",),
        kinds=("Pod",),
        enforcement=enforcement,
        remediation=f"Fix {policy_id}." if remediation is None else remediation,
        url=url if url is not None else f"https://docs.example.test/{policy_id}",
        tags=("pss", "containers"),
        language=Language.REGO,
        location=Location(f"policies/{policy_id}.rego", 1),
    )


WEB = TargetRef(
    id="k8s:shop/apps/v1/Deployment/web",
    kind="k8s",
    name="web",
    object_kind="Deployment",
    namespace="shop",
    location=Location("examples/manifests/web.yaml", 1),
)
DB = TargetRef(
    id="k8s:shop/apps/v1/StatefulSet/db",
    kind="k8s",
    name="db",
    object_kind="StatefulSet",
    namespace="shop",
    location=Location("examples/manifests/db.yaml", 12),
)
LIVE = TargetRef(  # read from a cluster: no file behind it
    id="k8s:_cluster/v1/Namespace/prod",
    kind="k8s",
    name="prod",
    object_kind="Namespace",
)

POLICIES = {
    p.id: p
    for p in (
        policy("pss-baseline-privileged", Severity.HIGH, Enforcement.DENY),
        policy("image-latest-tag", Severity.MEDIUM, Enforcement.WARN),
        policy("namespace-labels", Severity.LOW, Enforcement.AUDIT),
        policy("resource-limits", Severity.CRITICAL, Enforcement.DENY),
        policy("pdb-required", Severity.MEDIUM, Enforcement.DENY),
    )
}


def finding(
    policy_id: str,
    target: TargetRef,
    status: Status,
    *violations: Violation,
    warnings: tuple[Violation, ...] = (),
    error: str | None = None,
) -> Finding:
    p = POLICIES[policy_id]
    return Finding(
        policy_id, target, status, p.severity, p.enforcement,
        tuple(violations), warnings, error,
    )


def sample_findings() -> list[Finding]:
    return [
        finding(
            "pss-baseline-privileged", WEB, Status.FAIL,
            Violation('container "app" sets privileged: true', PRIVILEGED_PATH,
                      {"since": dt.date(2024, 5, 1)}),
        ),
        finding(
            "image-latest-tag", WEB, Status.WARN,
            warnings=(Violation("image nginx:latest uses the latest tag",
                                "spec.template.spec.containers[0].image"),),
        ),
        finding("namespace-labels", WEB, Status.PASS),
        finding("resource-limits", WEB, Status.PASS),
        finding(
            "image-latest-tag", DB, Status.FAIL,
            Violation("image postgres:latest uses the latest tag",
                      "spec.template.spec.containers[0].image"),
        ),
        finding("pdb-required", DB, Status.ERROR, error="TypeError: bad input"),
        finding("resource-limits", DB, Status.SKIP, error="parameter(s) ['cpu'] not configured"),
        finding("pss-baseline-privileged", DB, Status.WAIVED),
        finding(
            "namespace-labels", LIVE, Status.FAIL,
            Violation("namespace has no team label", "metadata.labels.team"),
        ),
    ]


PROBLEMS = [
    Problem("read", "malformed YAML: mapping values are not allowed here",
            Location("examples/manifests/broken.yaml", 7)),
    Problem("load", "policy directory does not exist"),
]


@pytest.fixture
def report() -> Report:
    return Report(sample_findings(), dict(POLICIES), list(PROBLEMS), tool_version="1.2.3")


def shuffled(report: Report) -> Report:
    findings = list(report.findings)
    random.Random(7).shuffle(findings)
    return Report(findings, report.policies, report.problems, report.tool_version)


# -- the registry ---------------------------------------------------------------------------


def test_every_registered_format_renders_the_same_report_to_text(report: Report) -> None:
    rendered = {name: render(report) for name, render in formats().items()}
    assert set(rendered) == {"table", "json", "sarif", "junit"}
    assert all(isinstance(text, str) and text.endswith("\n") for text in rendered.values())


# -- json -----------------------------------------------------------------------------------


def results_schema() -> dict:
    return json.loads(json_format.SCHEMA_PATH.read_text(encoding="utf-8"))


def test_the_results_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = results_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_json_output_validates_against_the_published_schema(report: Report) -> None:
    document = json.loads(json_format.render(report))
    jsonschema.Draft202012Validator(results_schema()).validate(document)


def test_json_has_one_record_per_policy_and_target_sorted_by_file_line_target_and_policy(
    report: Report,
) -> None:
    results = json.loads(json_format.render(report))["results"]
    order = [(r["target"]["file"], r["policy"]) for r in results]
    assert order == [
        ("examples/manifests/db.yaml", "image-latest-tag"),
        ("examples/manifests/db.yaml", "pdb-required"),
        ("examples/manifests/db.yaml", "pss-baseline-privileged"),
        ("examples/manifests/db.yaml", "resource-limits"),
        ("examples/manifests/web.yaml", "image-latest-tag"),
        ("examples/manifests/web.yaml", "namespace-labels"),
        ("examples/manifests/web.yaml", "pss-baseline-privileged"),
        ("examples/manifests/web.yaml", "resource-limits"),
        (None, "namespace-labels"),  # targets without a file come last
    ]


def test_json_output_does_not_depend_on_the_order_findings_arrive_in(report: Report) -> None:
    assert json_format.render(report) == json_format.render(shuffled(report))


def test_json_record_carries_the_policy_metadata_the_violations_and_the_target(
    report: Report,
) -> None:
    results = json.loads(json_format.render(report))["results"]
    record = next(r for r in results if r["policy"] == "pss-baseline-privileged"
                  and r["target"]["name"] == "web")
    assert record == {
        "policy": "pss-baseline-privileged",
        "title": "Title of pss-baseline-privileged",
        "status": "fail",
        "severity": "high",
        "enforcement": "deny",
        "blocking": True,
        "messages": ['container "app" sets privileged: true'],
        "violations": [{
            "msg": 'container "app" sets privileged: true',
            "path": PRIVILEGED_PATH,
            "details": {"since": "2024-05-01"},
            "kind": "deny",
        }],
        "error": None,
        "waiver": None,
        "remediation": "Fix pss-baseline-privileged.",
        "url": "https://docs.example.test/pss-baseline-privileged",
        "tags": ["pss", "containers"],
        "target": {
            "id": "k8s:shop/apps/v1/Deployment/web",
            "kind": "k8s",
            "object_kind": "Deployment",
            "name": "web",
            "namespace": "shop",
            "service": None,
            "file": "examples/manifests/web.yaml",
            "line": 1,
        },
    }


def test_json_marks_warnings_as_warn_violations_and_errors_in_the_error_field(
    report: Report,
) -> None:
    results = json.loads(json_format.render(report))["results"]
    warn = next(r for r in results if r["status"] == "warn")
    assert [v["kind"] for v in warn["violations"]] == ["warn"]
    assert warn["blocking"] is False
    error = next(r for r in results if r["status"] == "error")
    assert error["error"] == "TypeError: bad input"
    assert error["messages"] == ["TypeError: bad input"]


def test_json_summary_counts_targets_policies_every_status_and_blocking_results(
    report: Report,
) -> None:
    summary = json.loads(json_format.render(report))["summary"]
    assert summary == {
        "targets": 3,
        "policies": 5,
        "by_status": {"pass": 2, "fail": 3, "warn": 1, "error": 1, "skip": 1, "waived": 1},
        "blocking": 1,
    }


def test_json_lists_problems_with_step_message_file_and_line(report: Report) -> None:
    problems = json.loads(json_format.render(report))["problems"]
    assert problems == [
        {"step": "read", "message": "malformed YAML: mapping values are not allowed here",
         "file": "examples/manifests/broken.yaml", "line": 7},
        {"step": "load", "message": "policy directory does not exist",
         "file": None, "line": None},
    ]


def test_json_turns_dates_sets_and_other_non_json_values_into_plain_json() -> None:
    details = {
        "created": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
        "ports": {443, 80},
        "ratio": float("nan"),
        "raw": b"bytes",
        "nested": [(1, Severity.LOW), Path("a/b.yaml")],
        7: "int key",
    }
    f = finding("pss-baseline-privileged", WEB, Status.FAIL, Violation("x", None, details))
    text = json_format.render(Report([f], dict(POLICIES)))
    document = json.loads(text)
    assert document["results"][0]["violations"][0]["details"] == {
        "created": "2024-05-01T12:30:00+00:00",
        "ports": [80, 443],
        "ratio": "nan",
        "raw": "bytes",
        "nested": [[1, "low"], "a/b.yaml"],
        "7": "int key",
    }
    jsonschema.Draft202012Validator(results_schema()).validate(document)


def test_json_for_a_policy_missing_from_the_report_falls_back_to_its_id() -> None:
    f = Finding("gone", WEB, Status.FAIL, Severity.LOW, Enforcement.AUDIT, (Violation("m"),))
    document = json.loads(json_format.render(Report([f], {})))
    record = document["results"][0]
    assert (record["title"], record["remediation"], record["url"], record["tags"]) == (
        "gone", "", None, [])
    jsonschema.Draft202012Validator(results_schema()).validate(document)


# -- sarif ----------------------------------------------------------------------------------


def sarif_schema() -> dict:
    return json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def validate_sarif(log: dict) -> None:
    schema = sarif_schema()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    validator(schema).validate(log)


def render_sarif(report: Report) -> dict:
    return json.loads(sarif.render(report))


def run_of(report: Report) -> dict:
    return render_sarif(report)["runs"][0]


def test_sarif_validates_against_the_official_sarif_2_1_0_schema(report: Report) -> None:
    log = render_sarif(report)
    validate_sarif(log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_sarif_with_nothing_found_is_still_a_valid_successful_log() -> None:
    log = render_sarif(Report([], {}))
    validate_sarif(log)
    run = log["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_names_the_tool_and_its_version(report: Report) -> None:
    driver = run_of(report)["tool"]["driver"]
    assert driver["name"] == "pathwarden"
    assert driver["semanticVersion"] == "1.2.3"
    assert driver["informationUri"].startswith("https://")


def test_sarif_has_one_rule_per_policy_with_help_severity_and_tags_for_github(
    report: Report,
) -> None:
    rules = {r["id"]: r for r in run_of(report)["tool"]["driver"]["rules"]}
    assert sorted(rules) == sorted(POLICIES)
    rule = rules["pss-baseline-privileged"]
    assert rule["name"] == "PssBaselinePrivileged"
    assert rule["shortDescription"]["text"] == "Title of pss-baseline-privileged"
    assert rule["fullDescription"]["text"] == "What pss-baseline-privileged checks."
    assert "Fix pss-baseline-privileged." in rule["help"]["text"]
    assert "https://docs.example.test/pss-baseline-privileged" in rule["help"]["markdown"]
    assert rule["helpUri"] == "https://docs.example.test/pss-baseline-privileged"
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["properties"]["precision"] == "very-high"
    # GitHub reads security-severity only from rules tagged "security".
    assert "security" in rule["properties"]["tags"]
    assert {"pss", "containers"} <= set(rule["properties"]["tags"])
    severities = {pid: r["properties"]["security-severity"] for pid, r in rules.items()}
    assert severities == {
        "resource-limits": "9.0",
        "pss-baseline-privileged": "7.0",
        "image-latest-tag": "5.0",
        "pdb-required": "5.0",
        "namespace-labels": "3.0",
    }


def test_sarif_rule_index_points_at_the_rule_of_the_result(report: Report) -> None:
    run = run_of(report)
    rules = run["tool"]["driver"]["rules"]
    assert run["results"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_reports_only_fail_warn_and_error_findings_with_levels_from_enforcement(
    report: Report,
) -> None:
    levels = {(r["ruleId"], r["properties"]["target"]): r["level"]
              for r in run_of(report)["results"]}
    assert levels == {
        ("pss-baseline-privileged", WEB.id): "error",  # fail + deny: blocks
        ("image-latest-tag", WEB.id): "warning",  # a warn finding
        ("image-latest-tag", DB.id): "warning",  # fail of a warn-only policy
        ("pdb-required", DB.id): "warning",  # the rule could not judge the target
    }


def test_sarif_audit_policies_report_at_note_level() -> None:
    target = TargetRef("k8s:a/v1/Pod/p", "k8s", "p", "Pod", "a", None, Location("p.yaml", 3))
    f = finding("namespace-labels", target, Status.FAIL, Violation("no team", "metadata"))
    (result,) = run_of(Report([f], dict(POLICIES)))["results"]
    assert result["level"] == "note"


def test_sarif_message_names_the_target_the_violation_and_its_json_path(report: Report) -> None:
    result = next(r for r in run_of(report)["results"]
                  if r["ruleId"] == "pss-baseline-privileged")
    text = result["message"]["text"]
    assert "Deployment shop/web" in text
    assert 'container "app" sets privileged: true' in text
    assert PRIVILEGED_PATH in text


def test_sarif_results_point_at_the_manifest_relative_to_the_source_root(
    report: Report,
) -> None:
    for result in run_of(report)["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert physical["region"]["startLine"] >= 1
    result = next(r for r in run_of(report)["results"] if r["properties"]["target"] == DB.id)
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "examples/manifests/db.yaml"
    assert physical["region"]["startLine"] == 12


def test_sarif_starts_at_line_one_when_the_line_is_unknown() -> None:
    target = TargetRef("k8s:a/v1/Pod/p", "k8s", "p", "Pod", "a", None, Location("pod.yaml"))
    f = finding("pss-baseline-privileged", target, Status.FAIL, Violation("m", "spec"))
    (result,) = run_of(Report([f], dict(POLICIES)))["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def test_sarif_makes_absolute_paths_relative_and_encodes_them_as_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inside = TargetRef("k8s:a/v1/Pod/in", "k8s", "in", "Pod", "a", None,
                       Location(str(tmp_path / "deploy dir" / "pod.yaml"), 2))
    outside = TargetRef("k8s:a/v1/Pod/out", "k8s", "out", "Pod", "a", None,
                        Location("/elsewhere/pod.yaml", 2))
    findings = [finding("pss-baseline-privileged", t, Status.FAIL, Violation("m", "spec"))
                for t in (inside, outside)]
    log = render_sarif(Report(findings, dict(POLICIES)))
    validate_sarif(log)
    uris = {r["properties"]["target"]: r["locations"][0]["physicalLocation"]["artifactLocation"]
            for r in log["runs"][0]["results"]}
    assert uris[inside.id] == {"uri": "deploy%20dir/pod.yaml", "uriBaseId": "%SRCROOT%"}
    assert uris[outside.id] == {"uri": "file:///elsewhere/pod.yaml"}


def test_every_sarif_result_has_the_physical_file_location_github_requires(
    report: Report,
) -> None:
    for result in run_of(report)["results"]:
        assert result["locations"], "GitHub rejects the whole upload for a location-less result"
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        parts = urlsplit(uri)
        assert uri and " " not in uri and "\\" not in uri
        assert parts.scheme in ("", "file")


def test_sarif_keeps_findings_on_targets_without_a_file_as_notifications(
    report: Report,
) -> None:
    run = run_of(report)
    assert all(r["properties"]["target"] != LIVE.id for r in run["results"])
    notes = [n for n in run["invocations"][0]["toolExecutionNotifications"]
             if n.get("associatedRule")]
    (note,) = notes
    assert note["associatedRule"]["id"] == "namespace-labels"
    rules = run["tool"]["driver"]["rules"]
    assert rules[note["associatedRule"]["index"]]["id"] == "namespace-labels"
    assert note["level"] == "note"
    assert "namespace has no team label" in note["message"]["text"]
    assert "Namespace prod" in note["message"]["text"]
    assert note["properties"]["target"] == LIVE.id


def test_sarif_reports_problems_as_error_notifications_and_an_unsuccessful_run(
    report: Report,
) -> None:
    invocation = run_of(report)["invocations"][0]
    assert invocation["executionSuccessful"] is False
    problems = [n for n in invocation["toolExecutionNotifications"] if "descriptor" in n]
    assert [n["level"] for n in problems] == ["error", "error"]
    read = problems[0]
    assert "malformed YAML" in read["message"]["text"]
    assert read["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "examples/manifests/broken.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 7},
    }
    assert "locations" not in problems[1]


def fingerprints(report: Report) -> dict[tuple[str, str, str], str]:
    return {
        (r["ruleId"], r["properties"]["target"], r["properties"].get("path", "")):
            r["partialFingerprints"]["pathwarden/v1"]
        for r in run_of(report)["results"]
    }


def test_sarif_fingerprints_are_unique_and_do_not_change_between_runs(report: Report) -> None:
    first = fingerprints(report)
    assert len(set(first.values())) == len(run_of(report)["results"])
    assert fingerprints(shuffled(report)) == first


def test_sarif_fingerprints_ignore_line_moves_and_message_wording() -> None:
    def one(line: int, msg: str) -> str:
        target = TargetRef(WEB.id, "k8s", "web", "Deployment", "shop", None,
                           Location("web.yaml", line))
        f = finding("pss-baseline-privileged", target, Status.FAIL,
                    Violation(msg, PRIVILEGED_PATH))
        (fp,) = fingerprints(Report([f], dict(POLICIES))).values()
        return fp

    assert one(1, "privileged") == one(40, "privileged: true is not allowed")


def test_sarif_gives_violations_at_the_same_path_distinct_fingerprints() -> None:
    f = finding("pss-baseline-privileged", WEB, Status.FAIL,
                Violation("first", "spec"), Violation("second", "spec"), Violation("third"))
    results = run_of(Report([f], dict(POLICIES)))["results"]
    prints = [r["partialFingerprints"]["pathwarden/v1"] for r in results]
    assert len(results) == 3
    assert len(set(prints)) == 3


# -- junit ----------------------------------------------------------------------------------


def parse_junit(report: Report) -> ET.Element:
    return ET.fromstring(junit.render(report).encode("utf-8"))


def suite(root: ET.Element, name: str) -> ET.Element:
    (found,) = [s for s in root.findall("testsuite") if s.get("name") == name]
    return found


def test_junit_validates_against_the_jenkins_junit_xsd(report: Report) -> None:
    etree = pytest.importorskip("lxml.etree")
    schema = etree.XMLSchema(etree.parse(str(DATA / "junit-10.xsd")))
    document = etree.fromstring(junit.render(report).encode("utf-8"))
    # `file` on <testcase> is the GitLab/pytest extension Jenkins' XSD does not list (its
    # readers ignore unknown attributes); everything else must be exactly as the XSD says.
    for case in document.iter("testcase"):
        case.attrib.pop("file", None)
    schema.assertValid(document)


def test_junit_has_one_suite_per_policy_with_tests_failures_errors_and_skipped(
    report: Report,
) -> None:
    root = parse_junit(report)
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == [*sorted(POLICIES), "pathwarden problems"]
    counts = {s.get("name"): tuple(int(s.get(k)) for k in ("tests", "failures", "errors",
                                                             "skipped"))
              for s in root.findall("testsuite")}
    assert counts == {
        "image-latest-tag": (2, 1, 0, 0),
        "namespace-labels": (2, 1, 0, 0),
        "pdb-required": (1, 0, 1, 0),
        "pss-baseline-privileged": (2, 1, 0, 1),
        "resource-limits": (2, 0, 0, 1),
        "pathwarden problems": (2, 0, 2, 0),
    }
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("11", "3", "3")


def test_junit_has_one_testcase_per_target_named_by_kind_namespace_and_name(
    report: Report,
) -> None:
    cases = suite(parse_junit(report), "pss-baseline-privileged").findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("file")) for c in cases] == [
        ("pss-baseline-privileged", "StatefulSet/shop/db", "examples/manifests/db.yaml"),
        ("pss-baseline-privileged", "Deployment/shop/web", "examples/manifests/web.yaml"),
    ]
    live = suite(parse_junit(report), "namespace-labels").findall("testcase")[-1]
    assert live.get("name") == "Namespace/prod"
    assert live.get("file") is None


def test_junit_failure_carries_the_message_severity_path_and_remediation(
    report: Report,
) -> None:
    case = suite(parse_junit(report), "pss-baseline-privileged").findall("testcase")[1]
    failure = case.find("failure")
    assert failure.get("message") == 'container "app" sets privileged: true'
    assert failure.get("type") == "high"
    assert PRIVILEGED_PATH in failure.text
    assert "fix: Fix pss-baseline-privileged." in failure.text
    assert "blocks" in failure.text


def test_junit_maps_errors_skips_waivers_and_warnings(report: Report) -> None:
    root = parse_junit(report)
    error = suite(root, "pdb-required").find("testcase/error")
    assert error.get("message") == "TypeError: bad input"
    skipped = suite(root, "resource-limits").find("testcase/skipped")
    assert skipped.get("message") == "parameter(s) ['cpu'] not configured"
    waived = suite(root, "pss-baseline-privileged").findall("testcase")[0]
    assert waived.find("skipped") is not None
    warned = suite(root, "image-latest-tag").findall("testcase")[1]
    assert warned.get("name") == "Deployment/shop/web"
    assert warned.find("failure") is None
    assert "image nginx:latest uses the latest tag" in warned.find("system-out").text
    passed = suite(root, "resource-limits").findall("testcase")[1]
    assert list(passed) == []


def test_junit_reports_problems_as_errors_in_their_own_suite(report: Report) -> None:
    cases = suite(parse_junit(report), "pathwarden problems").findall("testcase")
    assert [c.get("name") for c in cases] == ["examples/manifests/broken.yaml:7", "load"]
    assert cases[0].find("error").get("type") == "read"
    assert "malformed YAML" in cases[0].find("error").get("message")


def test_junit_escapes_markup_and_replaces_characters_xml_cannot_carry() -> None:
    nasty = 'a <b> & "c" \x1b[31m red \x00 end'
    target = TargetRef("k8s:a/v1/Pod/<p>", "k8s", "<p>&", "Pod", "a", None,
                       Location("x&y.yaml", 1))
    f = finding("pss-baseline-privileged", target, Status.FAIL, Violation(nasty, "spec"))
    root = parse_junit(Report([f], dict(POLICIES)))
    case = root.find("testsuite/testcase")
    assert case.get("name") == "Pod/a/<p>&"
    assert case.get("file") == "x&y.yaml"
    message = case.find("failure").get("message")
    assert message.startswith('a <b> & "c" ')
    assert "\x1b" not in message and "\x00" not in message


def test_junit_without_problems_has_no_problems_suite() -> None:
    f = finding("resource-limits", WEB, Status.PASS)
    root = parse_junit(Report([f], dict(POLICIES)))
    assert [s.get("name") for s in root.findall("testsuite")] == ["resource-limits"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "0")


# -- table ----------------------------------------------------------------------------------


def test_table_groups_what_needs_attention_under_each_target(report: Report) -> None:
    lines = table.render(report).splitlines()
    web = lines.index("Deployment shop/web  (examples/manifests/web.yaml:1)")
    assert lines[web + 1:web + 5] == [
        "  WARN  [medium] image-latest-tag  image nginx:latest uses the latest tag"
        "  (spec.template.spec.containers[0].image)",
        "        fix: Fix image-latest-tag.",
        '  FAIL  [high] pss-baseline-privileged  container "app" sets privileged: true'
        f"  ({PRIVILEGED_PATH})",
        "        fix: Fix pss-baseline-privileged.",
    ]


def test_table_lists_targets_in_file_order_and_those_without_a_file_last(
    report: Report,
) -> None:
    headers = [line for line in table.render(report).splitlines()
               if line and not line.startswith(" ") and not line.startswith("error:")]
    assert headers[:3] == [
        "StatefulSet shop/db  (examples/manifests/db.yaml:12)",
        "Deployment shop/web  (examples/manifests/web.yaml:1)",
        "Namespace prod",
    ]


def test_table_counts_passes_without_listing_them(report: Report) -> None:
    text = table.render(report)
    assert "PASS" not in text
    assert "resource-limits  " not in text.split("Deployment shop/web")[1].split("\n\n")[0]
    assert "2 passed" in text


def test_table_marks_failures_that_do_not_block_with_their_enforcement(report: Report) -> None:
    lines = table.render(report).splitlines()
    assert ("  FAIL  [medium, warn] image-latest-tag  image postgres:latest uses the latest tag"
            "  (spec.template.spec.containers[0].image)") in lines
    assert ("  FAIL  [low, audit] namespace-labels  namespace has no team label"
            "  (metadata.labels.team)") in lines


def test_table_shows_errors_skip_reasons_and_waivers(report: Report) -> None:
    lines = table.render(report).splitlines()
    assert "  ERROR [medium] pdb-required  TypeError: bad input" in lines
    assert "  SKIP  [critical] resource-limits  parameter(s) ['cpu'] not configured" in lines
    assert "  WAIVED [high] pss-baseline-privileged" in lines


def test_table_ends_with_problems_and_a_one_line_summary(report: Report) -> None:
    lines = table.render(report).splitlines()
    assert lines[-1] == (
        "3 targets, 5 policies: 3 failed (1 blocking), 1 warning, 1 error, 1 skipped, "
        "2 passed, 1 waived; 2 problems"
    )
    assert ("error: read: examples/manifests/broken.yaml:7: "
            "malformed YAML: mapping values are not allowed here") in lines
    assert "error: load: policy directory does not exist" in lines


def test_table_with_nothing_to_show_prints_only_the_summary() -> None:
    text = table.render(Report([finding("resource-limits", WEB, Status.PASS)], dict(POLICIES)))
    assert text == (
        "1 target, 5 policies: 0 failed (0 blocking), 0 warnings, 0 errors, 0 skipped, 1 passed\n"
    )


def test_table_shows_every_violation_of_a_finding_on_its_own_line() -> None:
    f = finding("pss-baseline-privileged", WEB, Status.FAIL,
                Violation("container a is privileged", "spec.a"),
                Violation("container b is privileged", "spec.b"),
                warnings=(Violation("container c may escalate", "spec.c"),))
    lines = table.render(Report([f], dict(POLICIES))).splitlines()
    assert lines[1:5] == [
        "  FAIL  [high] pss-baseline-privileged  container a is privileged  (spec.a)",
        "        container b is privileged  (spec.b)",
        "        warning: container c may escalate  (spec.c)",
        "        fix: Fix pss-baseline-privileged.",
    ]


def test_table_neutralises_terminal_escape_sequences_and_newlines_from_manifests() -> None:
    target = TargetRef("k8s:a/v1/Pod/evil", "k8s", "evil\x1b[2J", "Pod", "a", None, None)
    f = finding("pss-baseline-privileged", target, Status.FAIL,
                Violation("name is\n\x1b[31mred\u202e", "metadata.name"))
    text = table.render(Report([f], dict(POLICIES)))
    assert "\x1b" not in text and "\u202e" not in text
    lines = text.splitlines()
    assert lines[0] == "Pod a/evil\\u001b[2J"
    assert lines[1] == ("  FAIL  [high] pss-baseline-privileged  name is \\u001b[31mred\\u202e"
                        "  (metadata.name)")
