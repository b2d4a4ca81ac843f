"""Running Gatekeeper test suites through pathwarden's own engine (`pathwarden verify`).

Each test loads its template and constraint alone, exactly as a policy directory would
(translation, schema check, match), and each case is judged by the same `evaluate` that
admission and audit use, so a suite that passes here describes what pathwarden enforces.
Semantics follow `gator verify`: a case needs at least one assertion; `violations`
defaults to `yes`; `message` is a regular expression searched in each message; a test
with `invalid: true` passes when its template or constraint does not load; `skip: true`
skips a suite, test or case.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PolicyLoadError
from ..evaluate import evaluate_target
from ..k8s import build_inventory
from ..model import Status
from ..policyset import BackendFactory, PolicySet
from ..rego import embedded_backend
from .loading import gatekeeper_policy_set
from .suites import Filter, Suite, SuiteError, check_assertion, read_objects, review_target


@dataclass(slots=True)
class CaseResult:
    name: str
    skipped: bool = False
    error: str | None = None
    seconds: float = 0.0


@dataclass(slots=True)
class TestResult:
    name: str
    skipped: bool = False
    error: str | None = None
    seconds: float = 0.0
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(c.error is not None for c in self.cases)


@dataclass(slots=True)
class SuiteResult:
    path: Path
    skipped: bool = False
    error: str | None = None
    seconds: float = 0.0
    tests: list[TestResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(t.failed for t in self.tests)


def run_suite(suite: Suite, run_filter: Filter,
              backend: BackendFactory = embedded_backend) -> SuiteResult:
    started = time.perf_counter()
    if suite.skip:
        return SuiteResult(suite.path, skipped=True)
    if suite.error:
        return SuiteResult(suite.path, error=suite.error)
    tests = [_run_test(suite.path.parent, test, run_filter, backend) for test in suite.tests]
    return SuiteResult(suite.path, seconds=time.perf_counter() - started, tests=tests)


def _run_test(base: Path, test: dict[str, Any], run_filter: Filter,
              backend: BackendFactory) -> TestResult:
    name = str(test.get("name") or "")
    if test.get("skip") or not run_filter.matches_test(test):
        return TestResult(name, skipped=True)
    started = time.perf_counter()
    result = TestResult(name)
    try:
        policy_set = _load(base, test, backend)
    except SuiteError as exc:
        result.error = str(exc)
    else:
        if test.get("invalid"):
            if policy_set is not None:
                result.error = ("the template and constraint load, but the test expects "
                                "them to be invalid (invalid: true)")
        elif policy_set is not None:
            cases = test.get("cases") or []
            if not isinstance(cases, list):
                result.error = "cases must be a list"
            for case in cases if isinstance(cases, list) else []:
                result.cases.append(_run_case(base, name, case, policy_set, run_filter))
    result.seconds = time.perf_counter() - started
    return result


def _load(base: Path, test: dict[str, Any], backend: BackendFactory) -> PolicySet | None:
    """The test's policy set; None when it does not load and `invalid: true` expects that."""
    paths = []
    for key in ("template", "constraint"):
        value = test.get(key)
        if not value:
            raise SuiteError(f"the test names no {key}")
        path = base / str(value)
        if not path.is_file():
            raise SuiteError(f"{key} {path}: no such file")
        paths.append(path)
    try:
        return gatekeeper_policy_set(paths[0], paths[1], backend)
    except PolicyLoadError as exc:
        if test.get("invalid"):
            return None
        raise SuiteError("the template or constraint does not load:\n    " +
                         "\n    ".join(str(p) for p in exc.problems)) from None


def _run_case(base: Path, test_name: str, case: Any, policy_set: PolicySet,
              run_filter: Filter) -> CaseResult:
    if not isinstance(case, dict):
        return CaseResult("", error="a case must be a mapping")
    name = str(case.get("name") or "")
    if case.get("skip") or not run_filter.matches_case(test_name, name):
        return CaseResult(name, skipped=True)
    started = time.perf_counter()
    try:
        error = _check_case(base, case, policy_set)
    except SuiteError as exc:
        error = str(exc)
    return CaseResult(name, error=error, seconds=time.perf_counter() - started)


def _check_case(base: Path, case: dict[str, Any], policy_set: PolicySet) -> str | None:
    if not case.get("object"):
        raise SuiteError("the case must define object")
    assertions = case.get("assertions")
    if not isinstance(assertions, list) or not assertions:
        raise SuiteError("assertions must be a non-empty list")
    objects = read_objects(base / str(case["object"]))
    if len(objects) != 1:
        raise SuiteError(f"{case['object']} defines {len(objects)} objects; a case reviews one")
    inventory_files = case.get("inventory") or []
    if not isinstance(inventory_files, list):
        raise SuiteError("inventory must be a list of files")
    inventory = [obj for f in inventory_files for obj in read_objects(base / str(f))]
    if policy_set.needs_inventory or inventory:
        policy_set = policy_set.with_inventory(build_inventory(inventory))
    findings = evaluate_target(review_target(objects[0]), policy_set)
    broken = [f for f in findings if f.status is Status.ERROR]
    if broken:
        return f"the constraint could not be evaluated: {broken[0].error}"
    messages = [v.msg for f in findings for v in (*f.violations, *f.warnings)]
    for assertion in assertions:
        error = check_assertion(assertion, messages)
        if error:
            return error
    return None
