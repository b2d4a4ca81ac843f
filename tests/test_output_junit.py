"""`--format junit`: valid JUnit XML (schema: tests/data/output/junit-10.xsd, Jenkins'
JUnit schema as shipped in pytest's sdist, MIT)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pathwarden.engine.model import (
    Location,
    Status,
    TargetRef,
    Violation,
)
from pathwarden.engine.output import Report, junit

from .output_support import DATA, POLICIES, PRIVILEGED_PATH, WEB, finding, sample_report


@pytest.fixture
def report() -> Report:
    return sample_report()

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


