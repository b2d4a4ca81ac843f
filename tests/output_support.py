"""Findings, policies and problems built by hand for the output-format tests, so each
test states exactly what went in."""


from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

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
from pathwarden.engine.output import Report

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


def sample_report() -> Report:
    return Report(sample_findings(), dict(POLICIES), list(PROBLEMS), tool_version="1.2.3")


def shuffled(report: Report) -> Report:
    findings = list(report.findings)
    random.Random(7).shuffle(findings)
    return Report(findings, report.policies, report.problems, report.tool_version)


