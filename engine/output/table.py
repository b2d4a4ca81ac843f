"""`--format table` (the default): what a person reads in a terminal or a CI log.

Grouped by target, because people fix one manifest at a time:

    Deployment shop/web  (examples/manifests/web.yaml:1)
      FAIL  [high] pss-baseline-privileged  container "app" sets privileged: true  (spec...)
            fix: set securityContext.privileged to false

Only what needs attention is listed (fail, warn, error, skip, waived); passes are counted
in the closing summary. A fail of a policy that does not block says so in its bracket
(`[high, warn]`, `[low, audit]`). Problems (unreadable files, policies that did not load)
come next as `error: <problem>`, and the summary line is always last, so `tail -1` of a
CI log gives the verdict.

No colour: the output goes to CI logs and files as often as to terminals. Text that came
from manifests or rules has its control characters made visible, so a crafted name cannot
move the cursor or recolour the terminal, and runs of whitespace (newlines included) are
collapsed so every line keeps its place in the layout.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import groupby

from ..model import Enforcement, Finding, Policy, Status
from . import Report
from .json_format import policy_count, sort_findings, target_count, target_label

INDENT = "  "
DETAIL_INDENT = " " * 8
FIXABLE = (Status.FAIL, Status.WARN)
# C0/C1 controls (ESC starts terminal sequences) and bidi overrides (text that reads reversed).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def render(report: Report) -> str:
    """Blocks separated by a blank line: one per target, then the problems, then the summary."""
    listed = [f for f in sort_findings(report.findings) if f.status is not Status.PASS]
    blocks = [
        target_block(list(group), report.policies)
        for _, group in groupby(listed, key=lambda f: f.target.id)
    ]
    if report.problems:
        blocks.append([f"error: {safe(str(p))}" for p in report.problems])
    blocks.append([summary_line(report)])
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def target_block(findings: list[Finding], policies: dict[str, Policy]) -> list[str]:
    lines = [target_header(findings[0])]
    for finding in findings:
        lines += finding_lines(finding, policies.get(finding.policy_id))
    return lines


def safe(text: str) -> str:
    """One line, no terminal control sequences: escapes made visible, whitespace collapsed."""
    text = " ".join(text.split())
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def target_header(finding: Finding) -> str:
    where = finding.target.location
    return safe(target_label(finding.target)) + (f"  ({safe(str(where))})" if where else "")


def finding_lines(finding: Finding, policy: Policy | None) -> list[str]:
    label = finding.status.value.upper().ljust(5)
    head = f"{INDENT}{label} {badge(finding)} {safe(finding.policy_id)}"
    details = detail_texts(finding)
    lines = [f"{head}  {details[0]}" if details else head]
    lines += [DETAIL_INDENT + text for text in details[1:]]
    if policy is not None and policy.remediation and finding.status in FIXABLE:
        lines.append(f"{DETAIL_INDENT}fix: {safe(policy.remediation)}")
    return lines



def badge(finding: Finding) -> str:
    """`[high]`; a fail that will not block names its enforcement: `[high, warn]`."""
    if finding.status is Status.FAIL and finding.enforcement is not Enforcement.DENY:
        return f"[{finding.severity}, {finding.enforcement}]"
    return f"[{finding.severity}]"


def detail_texts(finding: Finding) -> list[str]:
    """What went wrong: the violations, then the warnings, or the error / skip reason."""
    if finding.error:
        return [safe(finding.error)]
    texts = [violation_text(v.msg, v.path) for v in finding.violations]
    prefix = "warning: " if finding.violations else ""
    return texts + [prefix + violation_text(v.msg, v.path) for v in finding.warnings]


def violation_text(msg: str, path: str | None) -> str:
    return f"{safe(msg)}  ({safe(path)})" if path else safe(msg)


def summary_line(report: Report) -> str:
    counts = Counter(f.status for f in report.findings)
    blocking = sum(1 for f in report.findings if f.blocks)
    line = (
        f"{plural(target_count(report), 'target')}, {plural(policy_count(report), 'policy')}: "
        f"{counts[Status.FAIL]} failed ({blocking} blocking), "
        f"{plural(counts[Status.WARN], 'warning')}, {plural(counts[Status.ERROR], 'error')}, "
        f"{counts[Status.SKIP]} skipped, {counts[Status.PASS]} passed"
    )
    if counts[Status.WAIVED]:
        line += f", {counts[Status.WAIVED]} waived"
    if report.problems:
        line += f"; {plural(len(report.problems), 'problem')}"
    return line


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"
