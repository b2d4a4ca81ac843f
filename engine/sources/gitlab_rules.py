"""When a GitLab pipeline runs, in the trigger vocabulary of GitHub Actions.

GitLab has no `on:`; the events are implied by `workflow:rules` (or, without them, by the
jobs' `rules` and `only`) through `$CI_PIPELINE_SOURCE`, `$CI_COMMIT_TAG`,
`$CI_COMMIT_BRANCH` and `$CI_MERGE_REQUEST_*`. They are read so that one policy can ask
"does this run on merge requests?" of both systems. Conditions on other variables cannot
be judged statically; such a rule counts as a branch push, GitLab's default.
"""

from __future__ import annotations

import re
from typing import Any

from .pipeline_yaml import Lines

SOURCES = {
    "push": "push",
    "merge_request_event": "merge_request",
    "external_pull_request_event": "pull_request",
    "schedule": "schedule",
    "web": "workflow_dispatch",
    "api": "api",
    "trigger": "trigger",
    "pipeline": "pipeline",
    "parent_pipeline": "pipeline",
    "chat": "chat",
    "webide": "webide",
}
ONLY_REFS = {
    "branches": "push", "pushes": "push", "tags": "tag", "merge_requests": "merge_request",
    "schedules": "schedule", "web": "workflow_dispatch", "api": "api", "triggers": "trigger",
    "pipelines": "pipeline", "external_pull_requests": "pull_request", "chat": "chat",
}
_SOURCE_EQ = re.compile(r"\$\{?CI_PIPELINE_SOURCE\}?\s*==\s*['\"]?([\w-]+)")
_SOURCE_MATCH = re.compile(r"\$\{?CI_PIPELINE_SOURCE\}?\s*=~\s*/([^/]*)/")
_BRANCH_EQ = re.compile(r"\$\{?CI_COMMIT_BRANCH\}?\s*==\s*(['\"]?)([^'\"\s)&|]+)\1")
_BRANCH_MATCH = re.compile(r"\$\{?CI_COMMIT_(?:BRANCH|REF_NAME)\}?\s*=~\s*(/[^/]*/)")
_BRANCH = re.compile(r"\$\{?CI_COMMIT_BRANCH\b")
_TAG = re.compile(r"(?<!!)\$\{?CI_COMMIT_TAG\b\}?(?!\s*(?:==|!=)\s*(?:null|\"\"|''))")
_MERGE_REQUEST = re.compile(r"(?<!!)\$\{?CI_MERGE_REQUEST_(?:IID|ID|SOURCE_BRANCH_NAME|"
                            r"TARGET_BRANCH_NAME|EVENT_TYPE)\b")


def triggers(workflow: Any, jobs: list[dict[str, Any]],
             main_lines: Lines) -> list[dict[str, Any]]:
    """`workflow` and `jobs` with `!reference`s already resolved."""
    found = _Triggers()
    rules = workflow.get("rules") if isinstance(workflow, dict) else None
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            for one in _flat(rule):
                found.add_rule(one, main_lines.of("workflow", "rules", index))
        return found.result()
    for job in jobs:
        if isinstance(job.get("rules"), list):
            for rule in _flat(job["rules"]):
                found.add_rule(rule, None)
        elif job.get("only") is not None:
            found.add_only(job["only"])
        else:
            found.add("push", [], {"default": True}, None)
            found.add("tag", [], {"default": True}, None)
    return found.result()


def _flat(rules: Any) -> list[Any]:
    """A `!reference` to another job's rules leaves a nested list behind."""
    return [r for item in rules for r in _flat(item)] if isinstance(rules, list) else [rules]


class _Triggers:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.any_branch: set[str] = set()

    def add(self, event: str, branches: list[str], config: Any, line: int | None) -> None:
        entry = self.events.setdefault(event, {"event": event, "branches": [], "tags": [],
                                               "config": [], "line": line})
        if not branches:
            self.any_branch.add(event)
        entry["branches"] += [b for b in branches if b not in entry["branches"]]
        if config not in entry["config"]:
            entry["config"].append(config)

    def add_rule(self, rule: Any, line: int | None) -> None:
        if not isinstance(rule, dict) or rule.get("when") == "never":
            return
        for event, branches in rule_events(rule.get("if")):
            self.add(event, branches, rule, line)

    def add_only(self, only: Any) -> None:
        refs = only.get("refs") if isinstance(only, dict) else only
        refs = refs if isinstance(refs, list) else [refs] if refs else ["branches", "tags"]
        for ref in map(str, refs):
            event = ONLY_REFS.get(ref)
            self.add(event or "push", [] if event else [ref], {"only": only}, None)

    def result(self) -> list[dict[str, Any]]:
        for event in self.any_branch:
            self.events[event]["branches"] = []
        return list(self.events.values())


def rule_events(condition: Any) -> list[tuple[str, list[str]]]:
    """(event, branches) pairs a rule's `if:` lets through; no `if:` matches everything."""
    if not isinstance(condition, str):
        return [("push", [])]
    events = [SOURCES.get(m.group(1), m.group(1)) for m in _SOURCE_EQ.finditer(condition)]
    for match in _SOURCE_MATCH.finditer(condition):
        events += [SOURCES[w] for w in re.findall(r"[\w-]+", match.group(1)) if w in SOURCES]
    if _TAG.search(condition):
        events.append("tag")
    if _MERGE_REQUEST.search(condition):
        events.append("merge_request")
    branches = [m.group(2) for m in _BRANCH_EQ.finditer(condition)]
    branches += [m.group(1) for m in _BRANCH_MATCH.finditer(condition)]
    if branches or _BRANCH.search(condition) or not events:
        events.append("push")
    unique = list(dict.fromkeys(events))
    return [(e, branches if e == "push" else []) for e in unique]
