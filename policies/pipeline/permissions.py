"""GITHUB_TOKEN with least privilege.

Without a `permissions:` block a job gets the repository's default token, which is
read-write on every scope in organisations created before February 2023 and in any
repository where someone switched the setting back. Any step (or compromised action) can
then push code, publish packages or approve pull requests. GitLab has no equivalent in
the pipeline file (the job token's reach is a project setting), so GitLab pipelines pass.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule, warn

# Which steps need which write scope (`packages`: anything naming GitHub's registries). A job
# whose needs cannot be told (github-script, `gh api`, a reusable workflow) is assumed to
# need every scope, so no warning rests on a guess.
ACTION_SCOPES = {
    "contents": ("softprops/action-gh-release", "ncipollo/release-action",
                 "stefanzweifel/git-auto-commit-action", "peter-evans/create-pull-request",
                 "googleapis/release-please-action", "google-github-actions/release-please",
                 "changesets/action", "jamesives/github-pages-deploy-action",
                 "peaceiris/actions-gh-pages", "actions/create-release"),
    "pull-requests": ("peter-evans/create-pull-request", "marocchino/sticky-pull-request-comment",
                      "thollander/actions-comment-pull-request", "actions/labeler",
                      "googleapis/release-please-action", "peter-evans/create-or-update-comment"),
    "issues": ("actions/stale", "peter-evans/create-or-update-comment", "actions/labeler"),
    "id-token": ("aws-actions/configure-aws-credentials", "google-github-actions/auth",
                 "azure/login", "sigstore/cosign-installer", "actions/attest-build-provenance",
                 "actions/attest", "actions/attest-sbom", "pypa/gh-action-pypi-publish",
                 "hashicorp/vault-action"),
    "security-events": ("github/codeql-action", "ossf/scorecard-action"),
    "pages": ("actions/deploy-pages",),
    "attestations": ("actions/attest-build-provenance", "actions/attest", "actions/attest-sbom"),
    "checks": ("dorny/test-reporter", "mikepenz/action-junit-report",
               "enricomi/publish-unit-test-result-action"),
}
RUN_SCOPES = {
    "contents": re.compile(r"\bgit\s+push\b|\bgh\s+release\b|semantic-release|goreleaser"),
    "pull-requests": re.compile(r"\bgh\s+pr\s+(?:create|comment|edit|merge|review)\b"),
    "issues": re.compile(r"\bgh\s+issue\b"),
    "packages": re.compile(r"ghcr\.io|npm\.pkg\.github\.com|maven\.pkg\.github\.com"),
    "id-token": re.compile(r"ACTIONS_ID_TOKEN_REQUEST|\bcosign\b"),
    "actions": re.compile(r"\bgh\s+(?:run|workflow|cache)\b"),
}
UNKNOWN_NEEDS = ("actions/github-script",)
GH_API = re.compile(r"\bgh\s+api\b|api\.github\.com")


def job_needs(job: dict) -> set[str] | None:
    """The write scopes the job appears to use; None when that cannot be told."""
    if job["uses"]:
        return None
    needs: set[str] = set()
    for step in job["steps"]:
        action = (step["uses"] or {}).get("action", "").lower()
        if action.startswith(UNKNOWN_NEEDS) or GH_API.search(step["run"] or ""):
            return None
        for scope, actions in ACTION_SCOPES.items():
            if action.startswith(actions):
                needs.add(scope)
        said = f"{step['run'] or ''}\n{step['with']}"
        for scope, pattern in RUN_SCOPES.items():
            if pattern.search(said):
                needs.add(scope)
    return needs


def writes(permissions) -> list[str]:
    if not isinstance(permissions, dict):
        return []
    return sorted(scope for scope, level in permissions.items() if level == "write")


@rule(
    id="pipeline-least-privilege",
    title="Least-privilege GITHUB_TOKEN",
    description="A workflow sets top-level `permissions` (so no job falls back to the "
    "repository default) and never `write-all`, at the top or in a job. Write scopes at the "
    "top level are granted to every job without its own block; when some of those jobs do "
    "not appear to need a scope, it is a warning.",
    severity="high",
    targets=["pipeline"],
    enforcement="deny",
    remediation="Start every workflow with a read-only default and grant writes per job:\n"
    "  permissions:\n    contents: read\n  jobs:\n    release:\n      permissions:\n"
    "        contents: write   # only the job that publishes\n"
    "Use `permissions: {}` when the jobs need no token at all.",
    url="https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/"
    "controlling-permissions-for-github_token",
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def least_privilege(doc):
    pipeline = doc["pipeline"]
    if pipeline["system"] != "github-actions":
        return
    file = pipeline["path"]
    top = pipeline["permissions"]
    top_line = pipeline["lines"].get("permissions")
    inheriting = [job for job in pipeline["jobs"] if job["permissions"] is None]
    for job in pipeline["jobs"]:
        if job["permissions"] == "write-all":
            yield {"msg": f"job \"{job['id']}\" grants permissions: write-all",
                   "path": f"{file}:{job['path']}.permissions",
                   "details": {"file": file, "line": job["lines"].get("permissions")}}
    if top is None:
        names = ", ".join(f'"{j["id"]}"' for j in inheriting)
        if inheriting:
            yield {"msg": f"no top-level permissions: jobs {names} get the repository's default "
                          "token permissions (read-write on older repositories)",
                   "path": f"{file}:permissions", "details": {"file": file, "line": 1}}
        elif pipeline["jobs"]:
            yield warn("no top-level permissions; every job sets its own, but a new job would "
                       "get the repository default; add `permissions: {}` at the top",
                       f"{file}:permissions", {"file": file, "line": 1})
        return
    if top == "write-all":
        yield {"msg": "top-level permissions: write-all grants every scope to every job",
               "path": f"{file}:permissions", "details": {"file": file, "line": top_line}}
        return
    yield from _unneeded_top_writes(pipeline, inheriting, top_line)


def _unneeded_top_writes(pipeline: dict, inheriting: list[dict], line: int | None):
    file = pipeline["path"]
    for scope in writes(pipeline["permissions"]):
        if not inheriting:
            yield warn(f"top-level permissions grant {scope}: write, but every job sets its own "
                       "permissions; lower the top level to read or none",
                       f"{file}:permissions.{scope}", {"file": file, "line": line})
            continue
        extra = [j["id"] for j in inheriting
                 if (needs := job_needs(j)) is not None and scope not in needs]
        if extra:
            names = ", ".join(f'"{n}"' for n in extra)
            yield warn(f"top-level permissions grant {scope}: write to jobs {names}, which do not "
                       f"appear to need it; grant it only in the job that does",
                       f"{file}:permissions.{scope}", {"file": file, "line": line})
