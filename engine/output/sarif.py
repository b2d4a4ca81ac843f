"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

Why it looks the way it does (GitHub's ingestion rules are stricter than the SARIF schema):

* One result per violation, not per finding: each violation has its own JSON path, and
  GitHub tracks an alert by its fingerprint, so two violations must not share one.
  `partialFingerprints["pathwarden/v1"]` is a hash of policy id + target id + JSON path,
  plus `:N` counting repeats of that triple, so it is unique within a run and stable
  across runs (it does not depend on line numbers or message wording).
* Only fail, warn and error findings become results. Level: `error` for a blocking fail
  (fail + deny), `warning` for warn findings, non-deny fails and rule errors, `note` when
  the policy only audits.
* Locations: GitHub rejects the *whole file* when a result has no location, or a location
  without `physicalLocation.artifactLocation.uri` ("locationFromSarifResult: expected at
  least one location" / "expected artifact location"), and a made-up URI such as
  `pathwarden://<target id>` would be an alert on a file that does not exist. So a result
  is emitted only for targets read from a file: the file path relative to the working
  directory, with forward slashes, under `uriBaseId` `%SRCROOT%` (an absolute path outside
  the working directory becomes a `file://` URI, which GitHub's upload action makes
  relative to the checkout), and `region.startLine` the object's line (1 when unknown).
  A `pipeline` finding points at the line its violation names (`details.line`, in
  `details.file` when that is another file of the repository, e.g. a GitLab include). A
  `repo` target is a folder, so its findings point at the file the violation's path names
  inside it (`Dockerfile:3`, `web/package.json`) when that file exists; a file still to add
  (`LICENSE`, `tests/`) has nothing to point at and is kept as a notification (below).
  Findings on targets that have no file (live cluster objects, repositories read through
  an API) are kept, not dropped: each becomes a `toolExecutionNotification` of
  `invocations[0]` with the same level and message, its rule in `associatedRule` and the
  target id in the message and `properties` (no location at all, so no ingestion rule
  about locations can trip on it). They stay in the file for any SARIF consumer and do
  not make GitHub refuse the upload.
* Problems met on the way (unreadable files, policies that do not load) are notifications
  of level `error` with their file and line; `executionSuccessful` is false when there
  are any.
* Rules: one per policy that appears in the findings, with GitHub's property-bag
  extensions: `security-severity` (9.0/7.0/5.0/3.0 for critical/high/medium/low), which
  GitHub honours only when `tags` contains "security" (so it is always added), and
  `precision` "very-high" (policies are deterministic checks, not heuristics).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import Problem
from ..model import Enforcement, Finding, Location, Policy, Severity, Status, Violation
from . import Report
from .json_format import sort_findings, target_label

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# Placeholder until the project has a public home page; GitHub only links to it.
INFORMATION_URI = "https://pypi.org/project/pathwarden/"
FINGERPRINT_KEY = "pathwarden/v1"
SRCROOT = "%SRCROOT%"

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
}
DENY_LEVEL = {Enforcement.DENY: "error", Enforcement.WARN: "warning", Enforcement.AUDIT: "note"}
REPORTED = (Status.FAIL, Status.WARN, Status.ERROR)


@dataclass(frozen=True, slots=True)
class Issue:
    """One thing to report: a violation (or a rule error) of one finding, with its level."""

    finding: Finding
    level: str
    msg: str
    path: str | None
    details: Any = None


def render(report: Report) -> str:
    return json.dumps(build(report), indent=2, ensure_ascii=False) + "\n"


def build(report: Report, root: Path | None = None) -> dict[str, Any]:
    """The SARIF log as plain data; `root` (default: the working directory) anchors paths."""
    root = root or Path.cwd()
    findings = sort_findings(report.findings)
    policy_ids = sorted({f.policy_id for f in findings})
    rule_index = {pid: i for i, pid in enumerate(policy_ids)}
    results: list[dict[str, Any]] = []
    notifications = [problem_notification(p, root) for p in report.problems]
    seen: Counter[str] = Counter()
    for issue in issues(findings):
        index = rule_index[issue.finding.policy_id]
        where = issue_location(issue)
        if where is None:
            notifications.append(issue_notification(issue, index))
        else:
            results.append(result(issue, index, where, root, seen))
    rules = [rule(pid, report.policies.get(pid), findings) for pid in policy_ids]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver(report.tool_version, rules)},
                "invocations": [
                    {
                        "executionSuccessful": not report.problems,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }


def driver(version: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "pathwarden",
        "informationUri": INFORMATION_URI,
        "version": version,
        "semanticVersion": version,
        "rules": rules,
    }


# -- rules --------------------------------------------------------------------------------


def rule(policy_id: str, policy: Policy | None, findings: list[Finding]) -> dict[str, Any]:
    """A reportingDescriptor from the policy's metadata (or the bare finding if unknown)."""
    if policy is None:
        first = next(f for f in findings if f.policy_id == policy_id)
        severity, enforcement = first.severity, first.enforcement
        title = description = policy_id
        remediation, url, tags = "", None, ()
    else:
        severity, enforcement = policy.severity, policy.enforcement
        title, description = policy.title, policy.description or policy.title
        remediation, url, tags = policy.remediation, policy.url, policy.tags
    descriptor: dict[str, Any] = {
        "id": policy_id,
        "name": rule_name(policy_id),
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": rule_help(title, remediation, url),
        "defaultConfiguration": {"level": DENY_LEVEL[enforcement]},
        "properties": {
            "tags": sorted({*tags, "security"}),
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": "very-high",
        },
    }
    if url:
        descriptor["helpUri"] = url
    return descriptor


def rule_name(policy_id: str) -> str:
    """`pss-baseline-privileged` -> `PssBaselinePrivileged`: SARIF wants an identifier."""
    parts = "".join(c if c.isalnum() else " " for c in policy_id).split()
    return "".join(p[:1].upper() + p[1:] for p in parts) or policy_id


def rule_help(title: str, remediation: str, url: str | None) -> dict[str, str]:
    text = remediation or title
    markdown = f"**Remediation:** {remediation}" if remediation else f"**{title}**"
    if url:
        text += f"\n\nMore: {url}"
        markdown += f"\n\n[Reference]({url})"
    return {"text": text, "markdown": markdown}


# -- results ------------------------------------------------------------------------------


def issues(findings: list[Finding]) -> Iterator[Issue]:
    """Every violation of a fail/warn/error finding, in a stable order."""
    for finding in findings:
        if finding.status not in REPORTED:
            continue
        found = list(finding_issues(finding))
        yield from sorted(found, key=lambda i: (i.path or "", i.msg))


def finding_issues(finding: Finding) -> Iterator[Issue]:
    warn_level = "note" if finding.enforcement is Enforcement.AUDIT else "warning"
    if finding.status is Status.ERROR:
        yield Issue(finding, "warning", f"policy could not be evaluated: {finding.error}", None)
        return
    if finding.status is Status.FAIL:
        deny_level = DENY_LEVEL[finding.enforcement]
        yield from (Issue(finding, deny_level, v.msg, v.path, v.details)
                    for v in finding.violations)
        if not finding.violations:
            yield Issue(finding, deny_level, finding.error or "policy failed", None)
    yield from (warning_issue(finding, v, warn_level) for v in finding.warnings)


def warning_issue(finding: Finding, violation: Violation, level: str) -> Issue:
    return Issue(finding, level, violation.msg, violation.path, violation.details)


def message_text(issue: Issue) -> str:
    text = f"{target_label(issue.finding.target)}: {issue.msg}"
    return f"{text} (at {issue.path})" if issue.path else text


def fingerprint(issue: Issue, seen: Counter[str]) -> str:
    """Stable and unique: hash of policy + target + path, then which repeat of it this is."""
    key = "\0".join((issue.finding.policy_id, issue.finding.target.id, issue.path or ""))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    seen[digest] += 1
    return f"{digest}:{seen[digest]}"


def result(issue: Issue, index: int, where: Location, root: Path,
           seen: Counter[str]) -> dict[str, Any]:
    finding = issue.finding
    return {
        "ruleId": finding.policy_id,
        "ruleIndex": index,
        "level": issue.level,
        "message": {"text": message_text(issue)},
        "locations": [
            {
                "physicalLocation": physical_location(where, root),
                "logicalLocations": [logical_location(finding)],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(issue, seen)},
        "properties": issue_properties(issue),
    }


def issue_properties(issue: Issue) -> dict[str, str]:
    """What a SARIF viewer cannot tell from the rule: the target and this finding's status."""
    finding = issue.finding
    properties = {
        "target": finding.target.id,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "enforcement": finding.enforcement.value,
    }
    if issue.path:
        properties["path"] = issue.path
    return properties


def issue_location(issue: Issue) -> Location | None:
    """The file (and line) a result points at; None when there is no file to point at."""
    target = issue.finding.target
    where = target.location
    if where is None:
        return None
    if target.kind == "repo":
        return _in_repository(where.file, issue.path)
    if target.kind == "pipeline" and isinstance(issue.details, dict):
        return _in_pipeline(where, target.name, issue.details)
    return where


def _in_repository(root: str, path: str | None) -> Location | None:
    """`Dockerfile:3` / `web/package.json` in the checkout at `root`, if that file exists."""
    if not path:
        return None
    file, line = path, None
    head, sep, tail = path.rpartition(":")
    if sep and tail.isdigit():
        file, line = head, int(tail)
    base = os.path.abspath(root)
    full = os.path.normpath(os.path.join(base, file))
    inside = os.path.commonpath([base, full]) == base
    return Location(full, line) if inside and os.path.isfile(full) else None


def _in_pipeline(where: Location, name: str, details: dict[str, Any]) -> Location:
    """The violation's `details.line`, in `details.file` (repository-relative) when that is
    not the pipeline's own file. Target name `<repo>/<path>`, its file `<checkout>/<path>`."""
    line = details.get("line")
    line = line if isinstance(line, int) and not isinstance(line, bool) and line >= 1 else None
    file = details.get("file")
    own = name.split("/", 1)[-1]
    posix = Path(where.file).as_posix()
    if isinstance(file, str) and file and file != own and posix.endswith("/" + own):
        return Location(os.path.normpath(posix[: -len(own)] + file), line)
    return Location(where.file, line or where.line)


def logical_location(finding: Finding) -> dict[str, str]:
    target = finding.target
    return {"name": target.name or target.id, "fullyQualifiedName": target.id, "kind": "resource"}


def physical_location(location: Location, root: Path) -> dict[str, Any]:
    line = location.line if location.line and location.line >= 1 else 1
    return {
        "artifactLocation": artifact_location(location.file, root),
        "region": {"startLine": line},
    }


def artifact_location(file: str, root: Path) -> dict[str, str]:
    """Relative, forward-slashed and percent-encoded under %SRCROOT%; else a file:// URI."""
    absolute = Path(os.path.abspath(file))
    try:
        relative = absolute.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return {"uri": absolute.as_uri()}
    relative = posixpath.normpath(relative)
    return {"uri": quote(relative, safe="/"), "uriBaseId": SRCROOT}


# -- notifications ------------------------------------------------------------------------


def issue_notification(issue: Issue, index: int) -> dict[str, Any]:
    """A finding on a target with no file: kept, as a notification GitHub will not reject."""
    finding = issue.finding
    return {
        "level": issue.level,
        "message": {"text": f"{finding.policy_id}: {message_text(issue)}"},
        "associatedRule": {"id": finding.policy_id, "index": index},
        "properties": issue_properties(issue),
    }


def problem_notification(problem: Problem, root: Path) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{problem.step}: {problem.message}"},
        "descriptor": {"id": f"pathwarden/{problem.step}"},
    }
    if problem.location is not None:
        notification["locations"] = [
            {"physicalLocation": physical_location(problem.location, root)}
        ]
    return notification
