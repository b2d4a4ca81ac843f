"""Gatekeeper test suites (`kind: Suite`, `test.gatekeeper.sh/v1alpha1`): finding them,
reading the objects they name, and the `--run` filter, as `gator verify` does.

A suite lists tests; a test names a template and a constraint (paths relative to the
suite file) and either `cases` or `invalid: true`; a case names an `object` (a resource
or an AdmissionReview), optional `inventory` files and `assertions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..k8s import make_target
from ..model import Target
from ..sources.manifests import read_manifests

SUITE_GROUP = "test.gatekeeper.sh"
SUFFIXES = (".yaml", ".yml")


class SuiteError(ValueError):
    """A suite, test or case that cannot be run as written; the message says why."""


@dataclass(slots=True)
class Suite:
    path: Path
    tests: list[dict[str, Any]] = field(default_factory=list)
    skip: bool = False
    error: str | None = None


def find_suites(paths: Iterable[str]) -> tuple[list[Suite], list[str]]:
    """Suites below the paths (files, or directories walked recursively; gator's `dir/...`
    is accepted too), and the paths that do not exist."""
    suites, missing = [], []
    for raw in paths:
        path = Path((raw[:-4] or ".") if raw.endswith("/...") else
                    "." if raw == "..." else raw)
        if not path.exists():
            missing.append(raw)
            continue
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        for file in files:
            suites.extend(_read_suites(file))
    return suites, missing


def _read_suites(file: Path) -> list[Suite]:
    try:
        text = file.read_text(encoding="utf-8")
        docs = list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        if SUITE_GROUP in _peek(file):
            return [Suite(file, error=f"cannot read the suite: {exc}")]
        return []
    suites = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "Suite" or \
                str(doc.get("apiVersion", "")).rpartition("/")[0] != SUITE_GROUP:
            continue
        tests = doc.get("tests") or []
        if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
            suites.append(Suite(file, error="tests must be a list of mappings"))
            continue
        suites.append(Suite(file, tests, skip=bool(doc.get("skip"))))
    return suites


def _peek(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def read_objects(path: Path) -> list[dict[str, Any]]:
    """The objects of one file (multi-document YAML, JSON, `kind: List`)."""
    if not path.is_file():
        raise SuiteError(f"{path}: no such file")
    found = read_manifests([path])
    if found.problems:
        raise SuiteError("; ".join(str(p) for p in found.problems))
    if not found.objects:
        raise SuiteError(f"{path} defines no objects")
    return [obj for obj, _ in found.objects]


def review_target(obj: dict[str, Any]) -> Target:
    """The target for a case's object: an AdmissionReview's request as `input.review`
    (operation, userInfo, oldObject, …; a DELETE is judged on its oldObject, as in
    Gatekeeper), or a plain object reviewed as a CREATE."""
    if obj.get("kind") != "AdmissionReview" or \
            not str(obj.get("apiVersion", "")).startswith("admission.k8s.io/"):
        return make_target(obj)
    request = obj.get("request")
    if not isinstance(request, dict):
        raise SuiteError("the AdmissionReview has no request")
    new, old = request.get("object"), request.get("oldObject")
    if not isinstance(new, dict) and not isinstance(old, dict):
        raise SuiteError('the AdmissionRequest holds no "object" or "oldObject" to review')
    operation = str(request.get("operation") or "CREATE")
    if operation == "DELETE" and not isinstance(new, dict):
        new = old
    user_info = request.get("userInfo")
    target = make_target(new if isinstance(new, dict) else old, operation=operation,
                         old_object=old if isinstance(old, dict) else None,
                         user_info=user_info if isinstance(user_info, dict) else {})
    review = target.document["review"]
    for key, value in request.items():
        if key not in ("object", "oldObject", "userInfo", "operation") and value is not None:
            review[key] = value
    return target


class Filter:
    """`--run`: a regex on test and case names; `TEST//CASE` for both (gator's filter)."""

    def __init__(self, run: str | None):
        self.test: re.Pattern[str] | None = None
        self.case: re.Pattern[str] | None = None
        self.both = False
        if not run:
            return
        parts = run.split("//")
        if len(parts) > 2:
            raise SuiteError('a --run filter may include at most one "//"')
        try:
            if len(parts) == 1:
                self.test = self.case = re.compile(parts[0])
            else:
                self.both = True
                self.test, self.case = re.compile(parts[0]), re.compile(parts[1])
        except re.error as exc:
            raise SuiteError(f"--run {run!r} is not a valid regular expression: {exc}") from None

    def matches_test(self, test: dict[str, Any]) -> bool:
        if self.test is None:
            return True
        name = str(test.get("name", ""))
        if self.both:
            return bool(self.test.search(name))
        cases = test.get("cases") or []
        return bool(self.test.search(name)) or any(
            self.matches_case(name, str(c.get("name", ""))) for c in cases
            if isinstance(c, dict))

    def matches_case(self, test_name: str, case_name: str) -> bool:
        if self.test is None or self.case is None:
            return True
        if self.both:
            return bool(self.test.search(test_name) and self.case.search(case_name))
        return bool(self.case.search(case_name) or self.test.search(test_name))


def check_assertion(assertion: Any, messages: list[str]) -> str | None:
    """Why the assertion does not hold for the violation messages, or None."""
    if not isinstance(assertion, dict):
        return "an assertion must be a mapping with violations and/or message"
    want = assertion.get("violations", "yes")
    want = {True: "yes", False: "no"}.get(want, want) if isinstance(want, bool) else want
    pattern = assertion.get("message")
    try:
        regex = re.compile(str(pattern)) if pattern is not None else None
    except re.error as exc:
        return f"assertion message {pattern!r} is not a valid regular expression: {exc}"
    matching = sum(1 for m in messages if regex is None or regex.search(m))
    containing = f' containing "{pattern}"' if pattern is not None else ""
    if isinstance(want, int) and want >= 0:
        ok, wanted = matching == want, f"exactly {want}"
    elif want == "yes":
        ok, wanted = matching > 0, "at least 1"
    elif want == "no":
        ok, wanted = matching == 0, "none"
    else:
        return 'assertion violations must be a nonnegative integer, "yes" or "no"'
    if ok:
        return None
    return f"got {matching} violations{containing} but want {wanted}: got messages {messages}"
