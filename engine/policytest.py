"""`pathwarden test`: run policy unit tests the way `opa test` does.

Rego: every `test_*` rule of every `*_test.rego` module, compiled together with the policy
modules it imports; true passes, false or undefined fails. Python: every `test_*`
function of `test_*.py` files beside the policies, with `pytest.mark.parametrize` cases
expanded, so the same files also run under pytest.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PolicyLoadError, Problem, truncate
from .loading.loader import find_policy_files, read_rego_module
from .loading.python_modules import import_file
from .model import Location
from .rego.embedded import Compiled


@dataclass(frozen=True, slots=True)
class TestResult:
    file: str
    name: str
    outcome: str  # PASS | FAIL | ERROR | SKIP
    seconds: float
    detail: str = ""


def run_policy_tests(dirs: Iterable[Path], name_filter: str | None = None) -> list[TestResult]:
    """Raises PolicyLoadError when a policy or test module does not load."""
    files, problems = find_policy_files(list(dirs))
    results: list[TestResult] = []
    results.extend(_rego_tests(files.rego, files.rego_tests, problems))
    for path in files.python_tests:
        results.extend(_python_tests(path, problems))
    if problems:
        raise PolicyLoadError(problems)
    if name_filter:
        results = [r for r in results if name_filter in r.name]
    return results


def _rego_tests(policy_paths: list[Path], test_paths: list[Path],
                problems: list[Problem]) -> list[TestResult]:
    """Each test file runs in its own worker process.

    rego-cpp 1.5.2 aborts the whole process on some `with input as …` forms (e.g. when the
    policy under test calls sprintf on local variables); a worker keeps that to one file.
    """
    results: list[TestResult] = []
    for test_path in test_paths:
        results.extend(_rego_test_file(policy_paths, test_path, problems))
    return results


def _rego_test_file(policy_paths: list[Path], test_path: Path,
                    problems: list[Problem]) -> list[TestResult]:
    command = [sys.executable, "-m", "pathwarden.engine.rego_test_worker", str(test_path),
               *map(str, policy_paths)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    try:
        payload = json.loads(done.stdout)
    except ValueError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        signal = f" (signal {-done.returncode})" if done.returncode < 0 else ""
        return [TestResult(str(test_path), "(all tests of this file)", "ERROR", 0.0,
                           f"rego-cpp aborted{signal}: {truncate(reason, 200)}; this is a "
                           "known rego-cpp bug with `with input as …`; test this policy with "
                           "pytest cases (pathwarden.engine.testing.judge) instead")]
    problems.extend(Problem(p["step"], p["message"], Location(p["file"], p["line"]))
                    for p in payload["problems"])
    return [TestResult(**r) for r in payload["results"]]


def rego_test_results(policy_paths: list[Path], test_path: Path) -> dict[str, Any]:
    """The worker's side: compile policies + one test file, run its test_ rules."""
    problems: list[Problem] = []
    modules = [m for p in [*policy_paths, test_path] if (m := read_rego_module(p, problems))]
    tests = [(module, name) for module, source in modules if module.name == str(test_path)
             for name in sorted(source.defined) if name.startswith("test_")]
    entrypoints = [f"{m.entry_path}/{name}" for m, name in tests]
    results = []
    try:
        compiled = Compiled([m for m, _ in modules], None, entrypoints) if tests else None
    except PolicyLoadError as exc:
        problems.extend(exc.problems)
        compiled = None
    if compiled is not None:
        with compiled.lock:
            compiled.set_input({})
            for (module, name), entrypoint in zip(tests, entrypoints, strict=True):
                start = time.perf_counter()
                value, error = compiled.query(entrypoint)
                outcome = "ERROR" if error else "PASS" if value is True else "FAIL"
                results.append(TestResult(module.name, f"data.{module.package}.{name}",
                                          outcome, time.perf_counter() - start, error or ""))
    return {
        "results": [dataclasses.asdict(r) for r in results],
        "problems": [{"step": p.step, "message": p.message,
                      "file": p.location.file if p.location else str(test_path),
                      "line": p.location.line if p.location else None} for p in problems],
    }


def _python_tests(path: Path, problems: list[Problem]) -> list[TestResult]:
    module, problem = import_file(path, step="test")
    if problem:
        problems.append(problem)
        return []
    results = []
    for name, function in sorted(vars(module).items()):
        if not (name.startswith("test_") and callable(function)):
            continue
        for case_id, kwargs in _cases(function):
            results.append(_run_python_test(str(path), f"{name}{case_id}", function, kwargs))
    return results


def _run_python_test(file: str, name: str, function: Callable[..., Any],
                     kwargs: dict[str, Any] | None) -> TestResult:
    start = time.perf_counter()
    if kwargs is None:
        return TestResult(file, name, "SKIP", 0.0, "needs pytest fixtures; run it with pytest")
    try:
        function(**kwargs)
        outcome, detail = "PASS", ""
    except AssertionError as exc:
        outcome, detail = "FAIL", str(exc) or "assertion failed"
    except Exception as exc:  # a broken test is reported, the others still run
        outcome, detail = "ERROR", f"{type(exc).__name__}: {exc}"
    return TestResult(file, name, outcome, time.perf_counter() - start, detail)


def _cases(function: Callable[..., Any]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Expand pytest parametrize marks; None means the test wants fixtures we lack."""
    import inspect

    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    wanted = set(inspect.signature(function).parameters)
    axes = []
    for mark in reversed(marks):
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        ids = mark.kwargs.get("ids")
        axes.append([(_case_id(value, i, ids), dict(zip(names, _values(value, len(names)),
                                                           strict=True)))
                     for i, value in enumerate(mark.args[1])])
    for combo in itertools.product(*axes):
        kwargs: dict[str, Any] = {}
        for _, values in combo:
            kwargs.update(values)
        case_id = "[" + "-".join(c[0] for c in combo) + "]" if combo else ""
        yield case_id, kwargs if set(kwargs) >= wanted else None


def _values(value: Any, width: int) -> tuple[Any, ...]:
    # pytest.param(...) keeps its values in .values; a plain dict case has a .values
    # method too, so only a ParameterSet counts.
    is_param = type(value).__name__ == "ParameterSet"
    values = value.values if is_param else value
    return tuple(values) if width > 1 else (values[0] if is_param else values,)


def _case_id(value: Any, index: int, ids: Any) -> str:
    if getattr(value, "id", None):
        return str(value.id)
    if isinstance(ids, list | tuple) and index < len(ids):
        return str(ids[index])
    return str(index)
