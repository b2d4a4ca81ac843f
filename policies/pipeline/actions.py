"""Third-party actions pinned to a commit: the supply-chain rule of GitHub Actions.

A tag or branch of another repository can be moved to new code at any time, and that code
runs with the job's token and secrets (tj-actions/changed-files, March 2025). Only a full
commit SHA names immutable code. GitHub's own `actions/*` are not exempt: the org's
golden path treats every repository it does not control the same way.
"""

from __future__ import annotations

from pathwarden.engine.rules import rule


def _describe(uses: dict) -> str:
    if uses["ref_kind"] == "docker":
        return f"{uses['raw']} names a tag, not a digest; pin it with @sha256:<digest>"
    if not uses["ref"]:
        return f"{uses['raw']} has no ref at all; pin it to a full commit SHA"
    kind = {"tag": "a tag", "branch": "a branch (or tag)"}.get(uses["ref_kind"], "a ref")
    return (f"{uses['raw']} uses {kind}, which can be moved to other code; pin it to a "
            "full commit SHA")


@rule(
    id="pipeline-actions-pinned",
    title="Actions pinned to a commit SHA",
    description="Every `uses:` of an action or reusable workflow from another repository is "
    "pinned to a full 40-character commit SHA, and `docker://` actions to an image digest. "
    "Local actions (`./…`) are part of the same commit and pass. First-party actions/* are "
    "not exempt.",
    severity="high",
    targets=["pipeline"],
    enforcement="deny",
    remediation="Replace the tag with the commit SHA of the release you reviewed and keep the "
    "version in a comment, so people and Dependabot/Renovate can still read and update it: "
    "`uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2`. Find the "
    "SHA with `git ls-remote https://github.com/actions/checkout 'refs/tags/v4.2.2^{}' "
    "'refs/tags/v4.2.2'` (the ^{} line, when present, is the commit of an annotated tag). "
    "For docker:// actions use a digest: `docker://alpine:3.20@sha256:<digest>`.",
    url="https://docs.github.com/en/actions/security-for-github-actions/security-guides/"
    "security-hardening-for-github-actions#using-third-party-actions",
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def actions_pinned(doc):
    pipeline = doc["pipeline"]
    for uses in pipeline["uses_actions"]:
        if uses["ref_kind"] == "local" or uses["pinned"]:
            continue
        where = f"job \"{uses['job']}\"" + (f" step {uses['step']}" if uses["step"] is not None
                                             else "")
        path = uses["path"].removesuffix(".uses")
        yield {"msg": f"{where}: {_describe(uses)}",
               "path": f"{uses['file']}:{path}",
               "details": {"file": uses["file"], "line": uses["line"], "uses": uses["raw"]}}
