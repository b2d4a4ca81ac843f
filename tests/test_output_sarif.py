"""`--format sarif`: valid SARIF 2.1.0 that GitHub code scanning accepts (schema:
tests/data/output/sarif-schema-2.1.0.json, from @microsoft/jest-sarif, MIT)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from pathwarden.engine.model import (
    Location,
    Status,
    TargetRef,
    Violation,
)
from pathwarden.engine.output import Report, sarif

from .output_support import (
    DATA,
    DB,
    LIVE,
    POLICIES,
    PRIVILEGED_PATH,
    WEB,
    finding,
    sample_report,
    shuffled,
)


@pytest.fixture
def report() -> Report:
    return sample_report()

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


