"""`evaluate(targets, policy_set)`: the one way policies are run, by every caller.

Per target: look up the plan for its kind (cached), judge the target itself and, for
workloads, the Pod lifted out of its template. Rego policies that share parameters share
one converted input (the costly step); Python rules run through the plan's generated
runner (`python_runner.py`). Whatever a policy does wrong becomes an `error` finding for
that policy and target only.

Most findings are passes, and a full audit makes tens of thousands of them, so findings
are appended into one list and a passing one is built without normalising anything: the
engine's own cost per finding stays small next to the rule's (see bench/eval.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .k8s import pod_view
from .model import Finding, Policy, Status, Target, TargetRef, Violation
from .policyset import Batch, PolicySet
from .rego.results import RuleResult
from .rules import to_violation


def evaluate(
    targets: Iterable[Target], policy_set: PolicySet, *, scan_id: str | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    for target in targets:
        _evaluate_into(findings, target, policy_set, scan_id)
    return findings


def evaluate_target(
    target: Target, policy_set: PolicySet, *, scan_id: str | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    _evaluate_into(findings, target, policy_set, scan_id)
    return findings


def _evaluate_into(
    findings: list[Finding], target: Target, policy_set: PolicySet, scan_id: str | None
) -> None:
    ref = target.ref
    plan = policy_set.plan(ref.kind, ref.object_kind)
    if plan.direct:
        _judge(findings, ref, target.document, plan.direct_batch, policy_set, "", scan_id)
    if plan.pod:
        lifted = pod_view(target.document["review"])
        if lifted is not None:
            review, prefix = lifted
            _judge(findings, ref, {"review": review}, plan.pod_batch, policy_set, prefix,
                   scan_id)


def _judge(
    findings: list[Finding],
    ref: TargetRef,
    document: dict[str, Any],
    batch: Batch,
    policy_set: PolicySet,
    prefix: str,
    scan_id: str | None,
) -> None:
    append = findings.append
    for policy, reason in batch.skipped:
        append(_finding(ref, policy, scan_id, status=Status.SKIP, error=reason))
    if batch.python:
        data = policy_set.data
        for parameters, run in batch.python:
            # one document per group, shared by its rules: rules must not change it
            run(append, ref, {**document, "parameters": parameters}, data, prefix, scan_id)
    for group in batch.rego:
        try:
            results = policy_set.backend.evaluate(
                list(group.modules), {**document, "parameters": group.parameters})
        except Exception as exc:  # a backend failure is every policy's error, not a crash
            results = [RuleResult(error=f"{type(exc).__name__}: {exc}")] * len(group.policies)
        for policy, result in zip(group.policies, results, strict=True):
            append(_rego_finding(ref, policy, result, prefix, scan_id))


def _rego_finding(
    ref: TargetRef, policy: Policy, result: RuleResult, prefix: str, scan_id: str | None
) -> Finding:
    if result.error:
        return _finding(ref, policy, scan_id, status=Status.ERROR, error=result.error)
    try:
        denies = [to_violation(v, prefix) for v in result.values.get("deny", ())]
        warnings = [to_violation(v, prefix) for v in result.values.get("warn", ())]
    except TypeError as exc:
        return _finding(ref, policy, scan_id, status=Status.ERROR, error=str(exc))
    return _result_finding(ref, policy, denies, warnings, scan_id)


def _result_finding(
    ref: TargetRef,
    policy: Policy,
    denies: list[Violation],
    warnings: list[Violation],
    scan_id: str | None,
) -> Finding:
    status = Status.FAIL if denies else Status.WARN if warnings else Status.PASS
    return Finding(policy.id, ref, status, policy.severity, policy.enforcement,
                   tuple(denies), tuple(warnings), scan_id=scan_id)


def _finding(
    ref: TargetRef, policy: Policy, scan_id: str | None, *, status: Status, error: str
) -> Finding:
    return Finding(policy.id, ref, status, policy.severity, policy.enforcement,
                   error=error, scan_id=scan_id)
