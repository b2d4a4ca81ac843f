"""CI exists and runs the tests: the ground floor of the CI golden path.

A repository's CI is often split over several workflows (build and test, lint, release,
CodeQL), so "runs tests" is judged for the repository's pipelines together: each pipeline
document carries its siblings in `repository_pipelines`. The finding lands on the pipelines
that run on code changes (push, pull/merge requests), where the tests belong; a release or
scheduled workflow only fails when the repository has no such pipeline at all.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule

CODE_EVENTS = frozenset({"push", "pull_request", "merge_request", "merge_group"})
TEST_COMMANDS = re.compile(
    r"""(?ix)
      (?<![\w-])(?:pytest|py\.test|tox|nox|jest|vitest|mocha|rspec|phpunit|ctest|karma|ava
                 |nextest|cypress\s+run|playwright\s+test|busted|prove|behave)(?![\w-])
    | \bpython[\d.]*\s+-m\s+(?:pytest|unittest|nose2?)\b
    | \b(?:manage|setup)\.py\s+test\b
    | \b(?:go|cargo|dotnet|deno|mix|swift|bazel|bazelisk|bun|sbt|flutter|dart|zig|stack
          |cabal|lein|hatch)\s+(?:[+-]\S*\s+)*test\b
    | \b(?:npm|yarn|pnpm)\s+(?:run\s+)?(?:-\S+\s+)*(?:test|t)(?::[\w:-]+)?(?![\w-])
    | \bnpm\s+(?:cit|install-test)\b
    | \b(?:mvn|mvnw)\b[^\n]*\b(?:test|verify|integration-test)\b
    | \b(?:gradle|gradlew)\b[^\n]*\b(?:test\w*|check|build)\b
    | \b(?:make|just|task|rake|nx|turbo|lerna)\b[^\n]*\b(?:tests?|check|spec)\b
    """)
TEST_NAME = re.compile(r"(?i)(?:^|[\s_:/-])tests?(?:$|[\s_:/-])")
TEST_ACTIONS = ("cypress-io/github-action", "dorny/test-reporter",
                "mikepenz/action-junit-report", "enricomi/publish-unit-test-result-action")
TEST_TEMPLATES = re.compile(r"(?i)(?:^|/)(?:Test|Auto-DevOps|Jobs/Test)\b")


def on_code_change(pipeline: dict) -> bool:
    """Runs on pushes of branches or on pull/merge requests (a tags-only push is a release)."""
    return any(t["event"] in CODE_EVENTS
               and not (t["event"] == "push" and t["tags"] and not t["branches"])
               for t in pipeline["triggers"])


def _runs_tests(pipeline: dict) -> bool:
    if any(TEST_TEMPLATES.search(str(i["location"])) for i in pipeline["includes"]):
        return True
    for job in pipeline["jobs"]:
        if TEST_NAME.search(job["id"]) or TEST_NAME.search(job["name"]):
            return True
        if pipeline["system"] == "gitlab-ci" and "test" in str(job["config"].get("stage", "")):
            return True
        if job["uses"] and "test" in job["uses"]["action"].lower():
            return True
        for step in job["steps"]:
            if step["run"] and TEST_COMMANDS.search(step["run"]):
                return True
            if pipeline["system"] == "github-actions" and TEST_NAME.search(step["name"]):
                return True
            if step["uses"] and step["uses"]["action"].lower().startswith(TEST_ACTIONS):
                return True
    return False


@rule(
    id="pipeline-runs-tests",
    title="CI runs the tests",
    description="Some pipeline of the repository runs the test suite on code changes: a step "
    "runs pytest, go test, npm/yarn/pnpm test, mvn test/verify, gradle test/check/build, "
    "cargo test, tox, nox, make test, jest, vitest, dotnet test, rspec, …, or a job/step is "
    "named test, or a GitLab job sits in a stage named test. Workflows that do not run on "
    "code changes (release, schedule, manual) pass when another pipeline runs on them.",
    severity="medium",
    targets=["pipeline"],
    enforcement="warn",
    remediation="Add a test step to the workflow that runs on push and pull_request, e.g. "
    "`- run: pytest -q` after setup in .github/workflows/ci.yml, or a GitLab job "
    "`test: {stage: test, script: [pytest -q]}`.",
    url="https://docs.github.com/en/actions/use-cases-and-examples/building-and-testing",
    tags=["golden-path:ci", "best-practice"],
)
def runs_tests(doc):
    pipeline = doc["pipeline"]
    siblings = doc.get("repository_pipelines") or [pipeline]
    if any(_runs_tests(p) for p in siblings):
        return
    if not on_code_change(pipeline) and any(on_code_change(p) for p in siblings):
        return
    yield {"msg": f"no pipeline of the repository runs tests; {pipeline['path']} has no step "
                  "running a test command (pytest, go test, npm test, mvn test, …)",
           "path": f"{pipeline['path']}:jobs", "details": {"file": pipeline["path"], "line": 1}}


@rule(
    id="pipeline-ci-exists",
    title="The repository has CI",
    description="The repository defines at least one CI pipeline: a GitHub Actions workflow "
    "in .github/workflows/ or a .gitlab-ci.yml. Without one nothing is built, tested or "
    "scanned before it merges.",
    severity="high",
    targets=["repo"],
    enforcement="deny",
    remediation="Add .github/workflows/ci.yml that builds and tests on push and pull_request, "
    "e.g. `on: {push: {branches: [main]}, pull_request: {}}`, `permissions: {contents: "
    "read}` and one job with checkout (pinned by SHA), setup and `run: make test`; or a "
    ".gitlab-ci.yml with a test job.",
    url="https://docs.github.com/en/actions/writing-workflows/quickstart",
    tags=["golden-path:ci", "best-practice"],
)
def ci_exists(doc):
    if not doc["repository"]["workflows"]:
        yield {"msg": "no CI pipeline: neither .github/workflows/*.yml nor .gitlab-ci.yml",
               "path": ".github/workflows/"}
