"""Tests of the pipeline policies: workflow files on disk -> collect_pipelines -> evaluate.

Each case writes a small repository into a temporary folder of its own (not pytest's
tmp_path), so `pathwarden test policies/` runs these cases too.
"""

from __future__ import annotations

import functools
import tempfile
import textwrap
from pathlib import Path

import pytest
from pathwarden.engine import Finding, PolicySet, Target, TargetRef, evaluate, load_policies
from pathwarden.engine.sources.pipelines import collect_pipelines, pipeline_files

SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
CI = ".github/workflows/ci.yml"


@functools.cache
def _policies() -> PolicySet:
    return load_policies()


def judge(policy_id: str, files: dict[str, str]) -> dict[str, Finding]:
    """Findings of `policy_id` for every pipeline of a repository made of `files`, by path."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        collected = collect_pipelines(root, "github.com/acme/shop", "shop")
    assert collected.problems == [], collected.problems
    findings = evaluate(collected.targets, _policies().select([policy_id]))
    return {f.target.name.removeprefix("shop/"): f for f in findings}


def one(policy_id: str, workflow: str, path: str = CI) -> Finding:
    return judge(policy_id, {path: workflow})[path]


TESTED = f"""
name: CI
on: {{push: {{branches: [main]}}, pull_request: {{}}}}
permissions: {{contents: read}}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@{SHA}  # v4.2.2
      - run: pip install -e . && pytest -q
"""


# --- pipeline-ci-exists (a repo rule) -------------------------------------------------------

@pytest.mark.parametrize(("files", "status"), [
    ({CI: TESTED}, "pass"),
    ({".gitlab-ci.yml": "test:\n  script: [make test]\n"}, "pass"),
    ({"README.md": "# shop\n"}, "fail"),
])
def test_ci_exists_reads_the_repository_workflows(files, status):
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(text, encoding="utf-8")
        workflows = pipeline_files(Path(tmp))
    target = Target(TargetRef("repo:shop", "repo", "shop"),
                    {"repository": {"workflows": workflows}})
    [finding] = evaluate([target], _policies().select(["pipeline-ci-exists"]))
    assert finding.status == status
    if status == "fail":
        assert finding.violations[0].path == ".github/workflows/"


def test_ci_exists_without_the_workflows_key_is_an_error_not_a_pass():
    target = Target(TargetRef("repo:shop", "repo", "shop"), {"repository": {}})
    [finding] = evaluate([target], _policies().select(["pipeline-ci-exists"]))
    assert finding.status == "error"


# --- pipeline-runs-tests --------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "pytest -q", "python -m pytest", "go test ./...", "npm test", "yarn test", "pnpm run test",
    "mvn -B verify", "./gradlew check", "cargo test --all", "tox -e py312", "nox -s tests",
    "make test", "npx jest --ci", "npx vitest run", "dotnet test",
])
def test_runs_tests_recognises_test_commands(command):
    workflow = TESTED.replace("pip install -e . && pytest -q", command)
    assert one("pipeline-runs-tests", workflow).status == "pass"


def test_runs_tests_warns_when_no_pipeline_runs_tests():
    workflow = TESTED.replace("pip install -e . && pytest -q", "ruff check .")
    finding = one("pipeline-runs-tests", workflow)
    assert finding.status == "fail"
    assert finding.enforcement == "warn"
    assert finding.violations[0].path == f"{CI}:jobs"
    assert "no pipeline of the repository runs tests" in finding.messages[0]


def test_runs_tests_judges_the_repository_pipelines_together():
    lint = TESTED.replace("pip install -e . && pytest -q", "ruff check .")
    release = f"""
    on: {{push: {{tags: ['v*']}}}}
    jobs:
      publish:
        runs-on: ubuntu-latest
        steps: [{{uses: "pypa/gh-action-pypi-publish@{SHA}"}}]
    """
    tested = judge("pipeline-runs-tests", {CI: TESTED, ".github/workflows/lint.yml": lint,
                                           ".github/workflows/release.yml": release})
    assert {p: f.status for p, f in tested.items()} == {
        CI: "pass", ".github/workflows/lint.yml": "pass", ".github/workflows/release.yml": "pass"}
    untested = judge("pipeline-runs-tests", {".github/workflows/lint.yml": lint,
                                             ".github/workflows/release.yml": release})
    assert untested[".github/workflows/lint.yml"].status == "fail"
    assert untested[".github/workflows/release.yml"].status == "pass"  # reported on lint.yml


def test_runs_tests_accepts_a_gitlab_test_stage():
    gitlab = """
    stages: [build, test]
    build: {stage: build, script: [make]}
    unit: {stage: test, script: [./ci/run-suite.sh]}
    """
    assert one("pipeline-runs-tests", gitlab, ".gitlab-ci.yml").status == "pass"
    assert one("pipeline-runs-tests", "build: {stage: build, script: [make]}\n",
               ".gitlab-ci.yml").status == "fail"


# --- pipeline-actions-pinned ----------------------------------------------------------------

PINNING = f"""
on: push
permissions: {{}}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@{SHA}  # v4.2.2
      - uses: ./.github/actions/setup
      - uses: docker://alpine@sha256:{"a" * 64}
      - uses: acme/tools/lint@{SHA}
  shared:
    uses: acme/workflows/.github/workflows/deploy.yml@{SHA}
"""


def test_actions_pinned_passes_shas_local_actions_and_docker_digests():
    assert one("pipeline-actions-pinned", PINNING).status == "pass"


@pytest.mark.parametrize(("pinned", "moving", "path"), [
    (f"actions/checkout@{SHA}", "actions/checkout@v4", "jobs.build.steps[0]"),
    (f"acme/tools/lint@{SHA}", "acme/tools/lint@main", "jobs.build.steps[3]"),
    (f"alpine@sha256:{'a' * 64}", "alpine:3.20", "jobs.build.steps[2]"),
    (f"deploy.yml@{SHA}", "deploy.yml@v1", "jobs.shared"),
])
def test_actions_pinned_fails_tags_and_branches_even_of_first_party_actions(pinned, moving, path):
    finding = one("pipeline-actions-pinned", PINNING.replace(pinned, moving))
    assert finding.status == "fail"
    [violation] = finding.violations
    assert violation.path == f"{CI}:{path}"
    assert moving.split("/")[-1] in violation.msg
    assert violation.details["line"] > 0


# --- pipeline-least-privilege ---------------------------------------------------------------

def _permissions(top: str, job: str = "") -> str:
    return f"""
    on: push
    {top}
    jobs:
      build:
        runs-on: ubuntu-latest
        {job}
        steps: [{{run: make}}]
      release:
        runs-on: ubuntu-latest
        permissions: {{contents: write}}
        steps: [{{run: gh release create v1}}]
    """


@pytest.mark.parametrize(("top", "job", "status", "path"), [
    ("permissions: {contents: read}", "", "pass", None),
    ("permissions: read-all", "", "pass", None),
    ("permissions: {}", "", "pass", None),
    ("", "", "fail", "permissions"),
    ("permissions: write-all", "", "fail", "permissions"),
    ("permissions: {contents: read}", "permissions: write-all", "fail",
     "jobs.build.permissions"),
    ("permissions: {contents: write}", "", "warn", "permissions.contents"),
    ("", "permissions: {contents: read}", "warn", "permissions"),
])
def test_least_privilege(top, job, status, path):
    finding = one("pipeline-least-privilege", _permissions(top, job))
    assert finding.status == status
    if path:
        assert [v.path for v in (*finding.violations, *finding.warnings)] == [f"{CI}:{path}"]


def test_least_privilege_names_the_jobs_that_inherit_the_default():
    finding = one("pipeline-least-privilege", _permissions(""))
    assert finding.messages == ['no top-level permissions: jobs "build" get the repository\'s '
                                'default token permissions (read-write on older repositories)']


def test_least_privilege_does_not_apply_to_gitlab():
    assert one("pipeline-least-privilege", "test: {script: [make test]}\n",
               ".gitlab-ci.yml").status == "pass"


# --- pipeline-untrusted-checkout ------------------------------------------------------------

def _privileged(trigger: str, ref: str) -> str:
    return f"""
    on: {trigger}
    permissions: {{contents: read}}
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@{SHA}
            with:
              ref: {ref}
          - run: npm ci && npm test
    """


@pytest.mark.parametrize(("trigger", "ref", "status"), [
    ("pull_request_target", "${{ github.event.pull_request.head.sha }}", "fail"),
    ("pull_request_target", "${{ github.head_ref }}", "fail"),
    ("workflow_run", "${{ github.event.workflow_run.head_sha }}", "fail"),
    ("pull_request_target", "${{ github.event.pull_request.base.sha }}", "pass"),
    ("pull_request", "${{ github.event.pull_request.head.sha }}", "pass"),
])
def test_untrusted_checkout(trigger, ref, status):
    finding = one("pipeline-untrusted-checkout", _privileged(trigger, ref))
    assert finding.status == status
    if status == "fail":
        assert finding.violations[0].path == f"{CI}:jobs.build.steps[0]"
        assert trigger in finding.messages[0]


def test_untrusted_checkout_catches_gh_pr_checkout_in_a_script():
    workflow = _privileged("pull_request_target", "main").replace(
        "npm ci && npm test", "gh pr checkout ${{ github.event.number }} && make")
    finding = one("pipeline-untrusted-checkout", workflow)
    assert finding.violations[0].path == f"{CI}:jobs.build.steps[1]"


def _steps(yaml_list: str) -> str:
    """A YAML list of steps, indented under `steps:` of the templates below."""
    return textwrap.indent(textwrap.dedent(yaml_list).strip(), " " * 10)


# --- pipeline-script-injection --------------------------------------------------------------

def _script(step: str) -> str:
    return f"""
    on: issues
    permissions: {{contents: read}}
    jobs:
      triage:
        runs-on: ubuntu-latest
        steps:
          - run: echo start
{_steps(step)}
    """


@pytest.mark.parametrize(("step", "status"), [
    ('- run: echo "${{ github.event.issue.title }}"', "fail"),
    ("- run: git push origin ${{ github.head_ref }}", "fail"),
    ("- run: echo ${{ github.event.pull_request.head.ref }}", "fail"),
    ("- run: echo \"${{ github.event['comment']['body'] }}\"", "fail"),
    ("- run: echo '${{ toJSON(github.event.head_commit) }}'", "fail"),
    ("- uses: actions/github-script@" + SHA + "\n  with:\n    script: "
     "console.log('${{ github.event.pull_request.body }}')", "fail"),
    ('- env:\n    TITLE: ${{ github.event.issue.title }}\n  run: echo "$TITLE"', "pass"),
    ("- run: echo ${{ github.event.issue.number }} ${{ github.sha }}", "pass"),
])
def test_script_injection(step, status):
    finding = one("pipeline-script-injection", _script(step))
    assert finding.status == status
    if status == "fail":
        assert finding.violations[0].path == f"{CI}:jobs.triage.steps[1]"
        assert finding.violations[0].details["line"] == 8


# --- pipeline-security-scan -----------------------------------------------------------------

@pytest.mark.parametrize("step", [
    f"- uses: github/codeql-action/analyze@{SHA}",
    f"- uses: actions/dependency-review-action@{SHA}",
    f"- uses: aquasecurity/trivy-action@{SHA}",
    "- run: pip-audit -r requirements.txt",
    "- run: npm audit --audit-level=high",
    "- run: gitleaks detect --source .",
    "- run: semgrep ci",
])
def test_security_scan_recognises_scanners(step):
    workflow = TESTED + textwrap.indent(step, " " * 6) + "\n"
    assert one("pipeline-security-scan", workflow).status == "pass"


def test_security_scan_warns_without_a_scanner_and_accepts_one_in_a_sibling_workflow():
    finding = one("pipeline-security-scan", TESTED)
    assert (finding.status, finding.enforcement) == ("fail", "warn")
    assert finding.violations[0].path == f"{CI}:jobs"
    codeql = f"""
    on: {{schedule: [{{cron: "0 3 * * 1"}}]}}
    permissions: {{security-events: write}}
    jobs:
      analyze:
        runs-on: ubuntu-latest
        steps: [{{uses: "github/codeql-action/analyze@{SHA}"}}]
    """
    both = judge("pipeline-security-scan", {CI: TESTED, ".github/workflows/codeql.yml": codeql})
    assert {f.status for f in both.values()} == {"pass"}


@pytest.mark.parametrize(("include", "status"), [
    ("- template: Security/SAST.gitlab-ci.yml", "pass"),
    ("- template: Jobs/Dependency-Scanning.gitlab-ci.yml", "pass"),
    ("- template: Workflows/MergeRequest-Pipelines.gitlab-ci.yml", "fail"),
])
def test_security_scan_accepts_gitlab_templates(include, status):
    gitlab = f"include:\n  {include}\ntest:\n  script: [pytest]\n"
    assert one("pipeline-security-scan", gitlab, ".gitlab-ci.yml").status == status


# --- pipeline-no-long-lived-cloud-credentials -----------------------------------------------

def _cloud(step: str, permissions: str = "{id-token: write, contents: read}") -> str:
    return f"""
    on: push
    permissions: {permissions}
    jobs:
      deploy:
        runs-on: ubuntu-latest
        steps:
{_steps(step)}
    """


AWS_OIDC = f"""
- uses: aws-actions/configure-aws-credentials@{SHA}
  with:
    role-to-assume: arn:aws:iam::123456789012:role/ci
    aws-region: eu-west-1
"""


@pytest.mark.parametrize(("step", "status"), [
    (AWS_OIDC, "pass"),
    (f"- uses: google-github-actions/auth@{SHA}\n  with:\n    workload_identity_provider: "
     "projects/1/locations/global/workloadIdentityPools/ci/providers/gh", "pass"),
    (f"- uses: azure/login@{SHA}\n  with:\n    client-id: ${{{{ vars.AZURE_CLIENT_ID }}}}\n"
     "    tenant-id: ${{ vars.AZURE_TENANT_ID }}", "pass"),
    (f"- uses: aws-actions/configure-aws-credentials@{SHA}\n  with:\n"
     "    aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
     "    aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}", "fail"),
    (f"- uses: google-github-actions/auth@{SHA}\n  with:\n"
     "    credentials_json: ${{ secrets.GCP_SA_KEY }}", "fail"),
    (f"- uses: azure/login@{SHA}\n  with:\n    creds: ${{{{ secrets.AZURE_CREDENTIALS }}}}",
     "fail"),
    ("- run: aws s3 sync dist s3://bucket\n  env:\n"
     "    AWS_SECRET_ACCESS_KEY: ${{ secrets.PROD_AWS_SECRET_ACCESS_KEY }}", "fail"),
])
def test_no_long_lived_cloud_credentials(step, status):
    finding = one("pipeline-no-long-lived-cloud-credentials", _cloud(step))
    assert finding.status == status
    if status == "fail":
        assert finding.violations[0].path == f"{CI}:jobs.deploy.steps[0]"


def test_oidc_without_id_token_permission_is_a_warning():
    finding = one("pipeline-no-long-lived-cloud-credentials",
                  _cloud(AWS_OIDC, permissions="{contents: read}"))
    assert finding.status == "warn"
    assert "id-token: write" in finding.messages[0]


@pytest.mark.parametrize(("job", "status"), [
    ("deploy:\n  variables: {AWS_SECRET_ACCESS_KEY: $PROD_KEY}\n  script: [aws s3 ls]\n",
     "fail"),
    ("deploy:\n  script: ['aws configure set aws_secret_access_key $AWS_SECRET_KEY']\n", "fail"),
    ("deploy:\n  id_tokens: {AWS_TOKEN: {aud: sts.amazonaws.com}}\n  script:\n"
     "    - aws sts assume-role-with-web-identity --web-identity-token $AWS_TOKEN\n", "pass"),
])
def test_no_long_lived_cloud_credentials_on_gitlab(job, status):
    finding = one("pipeline-no-long-lived-cloud-credentials", job, ".gitlab-ci.yml")
    assert finding.status == status
    if status == "fail":
        assert finding.violations[0].path == ".gitlab-ci.yml:deploy"
