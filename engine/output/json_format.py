"""`--format json`: the stable, machine-readable result of `pathwarden eval`.

Scripts and dashboards parse this, so its shape is a contract: it is described by
`pathwarden-results.schema.json` beside this module (JSON Schema draft 2020-12) and carries
`"version": 1`. Fields may be added within a version (the schema is updated with them);
renaming or removing one bumps the version.

One record per policy x target, sorted by target file, line and id, then policy id, so two
runs over the same input produce the same bytes and diffs stay small. Values the engine
carries that JSON cannot (dates in violation details, sets, bytes) are turned into strings.

The other formats reuse `sort_findings` and `target_label` so every output lists things in
the same order and names targets the same way.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..model import Finding, Policy, Status, TargetRef, Violation
from . import Report

FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("pathwarden-results.schema.json")


def render(report: Report) -> str:
    return json.dumps(build(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def build(report: Report) -> dict[str, Any]:
    """The document as plain Python data (what `render` serialises)."""
    findings = sort_findings(report.findings)
    return {
        "version": FORMAT_VERSION,
        "tool": {"name": "pathwarden", "version": report.tool_version},
        "summary": summary(report),
        "results": [result_record(f, report.policies.get(f.policy_id)) for f in findings],
        "problems": [problem_record(p) for p in report.problems],
    }


# -- ordering and naming shared by every format ------------------------------------------


def finding_sort_key(finding: Finding) -> tuple[Any, ...]:
    """Target file, line, id, then policy: file-less targets come after file-backed ones."""
    loc = finding.target.location
    return (
        loc is None,
        loc.file if loc else "",
        (loc.line or 0) if loc else 0,
        finding.target.id,
        finding.policy_id,
    )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def target_label(target: TargetRef) -> str:
    """`Deployment shop/web`: what a person calls the target (kind, then namespace/name)."""
    kind = target.object_kind or target.kind
    name = f"{target.namespace}/{target.name}" if target.namespace else target.name
    return f"{kind} {name or target.id}"


def policy_count(report: Report) -> int:
    """Policies that were in play: the loaded ones plus any only named by a finding."""
    return len(set(report.policies) | {f.policy_id for f in report.findings})


def target_count(report: Report) -> int:
    return len({f.target.id for f in report.findings})


# -- records -------------------------------------------------------------------------------


def summary(report: Report) -> dict[str, Any]:
    counts = Counter(f.status for f in report.findings)
    return {
        "targets": target_count(report),
        "policies": policy_count(report),
        "by_status": {s.value: counts.get(s, 0) for s in Status},
        "blocking": sum(1 for f in report.findings if f.blocks),
    }


def result_record(finding: Finding, policy: Policy | None) -> dict[str, Any]:
    return {
        "policy": finding.policy_id,
        "title": policy.title if policy else finding.policy_id,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "enforcement": finding.enforcement.value,
        "blocking": finding.blocks,
        "messages": list(finding.messages),
        "violations": [violation_record(v, "deny") for v in finding.violations]
        + [violation_record(v, "warn") for v in finding.warnings],
        "error": finding.error,
        "waiver": finding.waiver,
        "remediation": policy.remediation if policy else "",
        "url": policy.url if policy else None,
        "tags": list(policy.tags) if policy else [],
        "target": target_record(finding.target),
    }


def violation_record(violation: Violation, kind: str) -> dict[str, Any]:
    return {
        "msg": violation.msg,
        "path": violation.path,
        "details": jsonable(violation.details),
        "kind": kind,
    }


def target_record(target: TargetRef) -> dict[str, Any]:
    loc = target.location
    return {
        "id": target.id,
        "kind": target.kind,
        "object_kind": target.object_kind,
        "name": target.name,
        "namespace": target.namespace,
        "service": target.service,
        "file": loc.file if loc else None,
        "line": (loc.line or None) if loc else None,
    }


def problem_record(problem: Problem) -> dict[str, Any]:
    loc = problem.location
    return {
        "step": problem.step,
        "message": problem.message,
        "file": loc.file if loc else None,
        "line": (loc.line or None) if loc else None,
    }


def jsonable(value: Any) -> Any:
    """Violation details come from rules (YAML dates, sets, ...): make them plain JSON."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=_set_order)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _set_order(value: Any) -> tuple[int, Any]:
    """Sets have no order: numbers numerically, then strings, then anything else as JSON."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))
