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
from pathlib import Path

import jsonschema
import pytest
from pathwarden.engine.model import (
    Enforcement,
    Finding,
    Severity,
    Status,
    TargetRef,
    Violation,
)
from pathwarden.engine.output import Report, formats, json_format, table

from .output_support import POLICIES, PRIVILEGED_PATH, WEB, finding, sample_report, shuffled


@pytest.fixture
def report() -> Report:
    return sample_report()

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
