"""`evaluate(targets, policy_set)`: the one way policies are run, by every caller.

Per target: look up the plan for its kind (cached), judge the target itself and, for
workloads, the Pod lifted out of its template. Rego policies that share parameters share
one converted input (the costly step); Python rules are called directly. Whatever a
policy does wrong becomes an `error` finding for that policy and target only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .k8s import pod_view
from .model import Finding, Policy, Status, Target, TargetRef, Violation
from .policyset import Batch, CompiledPolicy, PolicySet
from .rego.results import RuleResult
from .rules import collect, to_violation


def evaluate(
    targets: Iterable[Target], policy_set: PolicySet, *, scan_id: str | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    for target in targets:
        findings.extend(evaluate_target(target, policy_set, scan_id=scan_id))
    return findings


def evaluate_target(
    target: Target, policy_set: PolicySet, *, scan_id: str | None = None
) -> Iterator[Finding]:
    plan = policy_set.plan(target.ref.kind, target.ref.object_kind)
    if plan.direct:
        yield from _judge(target.ref, target.document, plan.direct_batch, policy_set, "", scan_id)
    if plan.pod:
        lifted = pod_view(target.document["review"])
        if lifted is not None:
            review, prefix = lifted
            yield from _judge(target.ref, {"review": review}, plan.pod_batch, policy_set,
                              prefix, scan_id)


def _judge(
    ref: TargetRef,
    document: dict[str, Any],
    batch: Batch,
    policy_set: PolicySet,
    prefix: str,
    scan_id: str | None,
) -> Iterator[Finding]:
    for policy, reason in batch.skipped:
        yield _finding(ref, policy, scan_id, status=Status.SKIP, error=reason)
    for parameters, group in batch.python:
        doc = {**document, "parameters": parameters}
        for c in group:
            yield _run_python(ref, doc, c, policy_set, prefix, scan_id)
    for group in batch.rego:
        try:
            results = policy_set.backend.evaluate(
                list(group.modules), {**document, "parameters": group.parameters})
        except Exception as exc:  # a backend failure is every policy's error, not a crash
            results = [RuleResult(error=f"{type(exc).__name__}: {exc}")] * len(group.policies)
        for policy, result in zip(group.policies, results, strict=True):
            yield _rego_finding(ref, policy, result, prefix, scan_id)


def _run_python(
    ref: TargetRef,
    doc: dict[str, Any],
    c: CompiledPolicy,
    policy_set: PolicySet,
    prefix: str,
    scan_id: str | None,
) -> Finding:
    """`doc` is shared by the policies of one parameter group; rules must not change it."""
    spec = c.python
    assert spec is not None
    try:
        result = spec.function(doc, policy_set.data) if spec.wants_data else spec.function(doc)
        denies, warnings = collect(result)
    except Exception as exc:  # a rule's bug is reported as its error finding
        return _finding(ref, c.policy, scan_id, status=Status.ERROR,
                        error=f"{type(exc).__name__}: {exc}")
    return _result_finding(ref, c.policy, denies, warnings, prefix, scan_id)


def _rego_finding(
    ref: TargetRef, policy: Policy, result: RuleResult, prefix: str, scan_id: str | None
) -> Finding:
    if result.error:
        return _finding(ref, policy, scan_id, status=Status.ERROR, error=result.error)
    try:
        denies = [to_violation(v) for v in result.values.get("deny", ())]
        warnings = [to_violation(v) for v in result.values.get("warn", ())]
    except TypeError as exc:
        return _finding(ref, policy, scan_id, status=Status.ERROR, error=str(exc))
    return _result_finding(ref, policy, denies, warnings, prefix, scan_id)


def _result_finding(
    ref: TargetRef,
    policy: Policy,
    denies: list[Violation],
    warnings: list[Violation],
    prefix: str,
    scan_id: str | None,
) -> Finding:
    if prefix and (denies or warnings):
        denies, warnings = _prefixed(denies, prefix), _prefixed(warnings, prefix)
    status = Status.FAIL if denies else Status.WARN if warnings else Status.PASS
    return Finding(policy.id, ref, status, policy.severity, policy.enforcement,
                   tuple(denies), tuple(warnings), scan_id=scan_id)


def _finding(
    ref: TargetRef, policy: Policy, scan_id: str | None, *, status: Status, error: str
) -> Finding:
    return Finding(policy.id, ref, status, policy.severity, policy.enforcement,
                   error=error, scan_id=scan_id)


def _prefixed(violations: list[Violation], prefix: str) -> list[Violation]:
    return [Violation(v.msg, prefix + v.path if v.path else v.path, v.details)
            for v in violations]

