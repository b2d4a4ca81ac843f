"""Code and dependencies are scanned in CI.

Like tests, scanning often lives in its own workflow (codeql.yml), so the repository's
pipelines are judged together (`repository_pipelines`) and a miss is reported on the
pipelines that run on code changes.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule

SCAN_ACTIONS = (
    "github/codeql-action", "actions/dependency-review-action", "aquasecurity/trivy-action",
    "aquasecurity/tfsec-action", "anchore/scan-action", "snyk/actions",
    "returntocorp/semgrep-action", "semgrep/semgrep-action", "gitleaks/gitleaks-action",
    "google/osv-scanner-action", "pycqa/bandit-action", "securego/gosec",
    "trufflesecurity/trufflehog", "bridgecrewio/checkov-action", "docker/scout-action",
    "golang/govulncheck-action", "pypa/gh-action-pip-audit", "microsoft/security-devops-action",
    "checkmarx/ast-github-action", "sonarsource/sonarqube-scan-action",
    "sonarsource/sonarcloud-github-action", "zricethezav/gitleaks-action",
)
SCAN_COMMANDS = re.compile(
    r"""(?ix)
      (?<![\w-])(?:trivy|grype|semgrep|gitleaks|osv-scanner|bandit|gosec|govulncheck|pip-audit
                 |trufflehog|checkov|tfsec|kics|brakeman|bundler-audit|dependency-check
                 |codeql|njsscan|zizmor|audit-ci)(?![\w-])
    | \bsnyk\s+(?:test|code|container|iac|monitor)\b
    | \b(?:npm|yarn|pnpm|bun)\s+audit\b
    | \bcargo\s+(?:audit|deny)\b
    | \bbundle\s+audit\b
    | \bsafety\s+(?:check|scan)\b
    """)
SCAN_DOCKER = re.compile(r"(?i)trivy|grype|semgrep|gitleaks|osv-scanner|security-products/")
GITLAB_TEMPLATES = re.compile(
    r"(?i)(?:^|/)(?:SAST|SAST-IaC|Dependency-Scanning|Secret-Detection|Container-Scanning"
    r"|DAST|Auto-DevOps)(?:\.latest)?\.gitlab-ci\.yml$"
    r"|/components/(?:sast|dependency-scanning|secret-detection|container-scanning)\b")


def on_code_change(pipeline: dict) -> bool:
    return any(t["event"] in ("push", "pull_request", "merge_request", "merge_group")
               and not (t["event"] == "push" and t["tags"] and not t["branches"])
               for t in pipeline["triggers"])


def scans(pipeline: dict) -> bool:
    if any(GITLAB_TEMPLATES.search(str(i["location"])) for i in pipeline["includes"]):
        return True
    if any(SCAN_DOCKER.search(str(image["image"])) for image in pipeline["images"]):
        return True
    for job in pipeline["jobs"]:
        for step in job["steps"]:
            action = (step["uses"] or {}).get("action", "").lower()
            if action.startswith(SCAN_ACTIONS) or (action.startswith("docker://")
                                                   and SCAN_DOCKER.search(action)):
                return True
            if SCAN_COMMANDS.search(step["run"] or ""):
                return True
    return False


@rule(
    id="pipeline-security-scan",
    title="CI scans code and dependencies",
    description="Some pipeline of the repository runs a SAST, dependency or secret scan: "
    "CodeQL, dependency-review-action, Trivy, Grype, Snyk, Semgrep, gitleaks, osv-scanner, "
    "bandit, gosec, govulncheck, npm/yarn/pnpm audit, pip-audit, cargo audit, or GitLab's "
    "Security/SAST, Dependency-Scanning, Secret-Detection or Container-Scanning templates.",
    severity="medium",
    targets=["pipeline"],
    enforcement="warn",
    remediation="Add a scan to the pull request workflow, e.g. "
    "`- uses: actions/dependency-review-action@<sha>  # v4` and a CodeQL workflow "
    "(github/codeql-action/init + analyze), or `- run: pip-audit` / `- run: npm audit "
    "--audit-level=high`; on GitLab `include: [{template: Jobs/SAST.gitlab-ci.yml}, "
    "{template: Jobs/Dependency-Scanning.gitlab-ci.yml}]`.",
    url="https://docs.github.com/en/code-security/code-scanning/introduction-to-code-scanning/"
    "about-code-scanning",
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def security_scan(doc):
    pipeline = doc["pipeline"]
    siblings = doc.get("repository_pipelines") or [pipeline]
    if any(scans(p) for p in siblings):
        return
    if not on_code_change(pipeline) and any(on_code_change(p) for p in siblings):
        return
    yield {"msg": f"no pipeline of the repository scans code or dependencies; {pipeline['path']} "
                  "runs no SAST, dependency or secret scanner",
           "path": f"{pipeline['path']}:jobs", "details": {"file": pipeline["path"], "line": 1}}
