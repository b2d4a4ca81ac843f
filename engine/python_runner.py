"""The Python rules of one plan, run as one generated function per parameter group.

An audit calls every Python rule once per target, and a built-in Pod rule does only a
few microseconds of work. A loop over the rules costs, per rule, a tuple unpack, the
iteration and a branch on the rule's signature: enough to be a fifth of the whole audit
(bench/eval.py). So, as `dataclasses` does for `__init__`, a group's rules are unrolled
into straight-line code once, when the plan is made, and each rule's function, id,
severity and enforcement become constants of that code.

The generated source holds no text from the policies: every value is passed in by name
(`f3`, `id3`, ...), so a policy id cannot change the code. Each rule keeps its own
`try`, so one rule's exception becomes that rule's `error` finding and the rest run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import GeneratorType
from typing import Any, NamedTuple

from .model import Enforcement, Finding, Policy, Severity, Status, TargetRef
from .rules import Warning_, collect

Runner = Callable[
    [Callable[[Finding], None], TargetRef, dict[str, Any], dict[str, Any], str, "str | None"],
    None,
]
"""run(append, ref, document, data, prefix, scan_id): appends one finding per rule."""


class PythonCall(NamedTuple):
    """What the generated code needs of one Python rule."""

    function: Callable[..., Any]
    wants_data: bool
    policy_id: str
    severity: Severity
    enforcement: Enforcement
    policy: Policy


_RULE = """\
    try:
        r = f{i}({args})
        items = (list(r) if type(r) is GENERATOR else NONE if r is None
                 else [r] if isinstance(r, SINGLE) else list(r))
        if items:
            denies, warnings = collect(items, prefix)
            append(Finding(id{i}, ref, FAIL if denies else WARN if warnings else PASS,
                           sev{i}, enf{i}, tuple(denies), tuple(warnings), None, scan_id))
        else:
            append(Finding(id{i}, ref, PASS, sev{i}, enf{i}, NONE, NONE, None, scan_id))
    except Exception as exc:
        append(error_finding(ref, policy{i}, scan_id, exc))
"""


def compile_runner(calls: Sequence[PythonCall]) -> Runner:
    """One function that runs `calls` in order on a document; see the module docstring."""
    namespace: dict[str, Any] = {
        "GENERATOR": GeneratorType, "NONE": (), "SINGLE": (str, dict, Warning_),
        "PASS": Status.PASS, "FAIL": Status.FAIL, "WARN": Status.WARN,
        "Finding": Finding, "collect": collect, "error_finding": error_finding,
    }
    lines = ["def run(append, ref, doc, data, prefix, scan_id):", "    pass"]
    for i, call in enumerate(calls):
        namespace.update({f"f{i}": call.function, f"id{i}": call.policy_id,
                          f"sev{i}": call.severity, f"enf{i}": call.enforcement,
                          f"policy{i}": call.policy})
        lines.append(_RULE.format(i=i, args="doc, data" if call.wants_data else "doc"))
    ids = ", ".join(c.policy_id for c in calls)
    code = compile("\n".join(lines), f"<pathwarden python rules: {ids[:200]}>", "exec")
    exec(code, namespace)  # our own template; policy values come in by name
    run: Runner = namespace["run"]
    return run


def error_finding(ref: TargetRef, policy: Policy, scan_id: str | None,
                  exc: Exception) -> Finding:
    """A rule's bug is reported as its error finding, never as a pass or a crash."""
    return Finding(policy.id, ref, Status.ERROR, policy.severity, policy.enforcement,
                   error=f"{type(exc).__name__}: {exc}", scan_id=scan_id)
