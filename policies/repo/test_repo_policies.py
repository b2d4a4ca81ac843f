"""Tests of the built-in repository policies: real git repositories, the real source, the engine.

Each case writes a few files into a temporary git repository, collects it with the
repository source (as the scanner does) and evaluates one policy; so the tests also hold
the document contract between the source and the policies. They need no pytest fixtures and
run under `pathwarden test` too.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest
from pathwarden.engine import Finding, evaluate
from pathwarden.engine.sources.repos import RepoSpec, collect_repos
from pathwarden.engine.testing import policy_set

DIGEST = "sha256:" + "0" * 64
CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop-web
spec:
  type: service
  lifecycle: production
  owner: team-shop
"""
README = "# Shop web\n\nThe storefront customers buy from.\n\n## Getting started\n\n" + \
    "Run `make dev` and open http://localhost:8080. Tests: `make test`.\n" * 3


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2024-05-01T12:00:00Z",
           "GIT_COMMITTER_DATE": "2024-05-01T12:00:00Z"}
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, env=env, check=True, capture_output=True)


def judge_repo(policy_id: str, files: dict[str, str], *,
               parameters: dict | None = None) -> Finding:
    """The one finding `policy_id` gives a git repository holding `files`."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shop-web"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        root.mkdir(exist_ok=True)
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "--allow-empty", "-m", "test")
        [collected] = collect_repos([RepoSpec(str(root))], Path(tmp) / "cache")
    assert collected.error is None, collected.error
    selected = policy_set().select([policy_id])
    if parameters:
        selected = selected.with_parameters({policy_id: parameters})
    [finding] = evaluate(collected.targets, selected)
    assert finding.target.kind == "repo" and finding.target.id == "repo:shop-web"
    return finding


def problems(finding: Finding) -> list[tuple[str, str | None]]:
    return [(v.msg, v.path) for v in (*finding.violations, *finding.warnings)]


# --- ownership -----------------------------------------------------------------------------
# Cases are pytest.param: `pathwarden test` expands parametrize marks, and a bare dict case
# would be taken for a pytest.param (both have `.values`).

@pytest.mark.parametrize("files", [
    pytest.param({".github/CODEOWNERS": "*  @acme/team-shop\n/docs/ @acme/writers\n"},
                 id="codeowners"),
    pytest.param({"CODEOWNERS": "[Default] @acme/team-shop\n*\n"}, id="gitlab-section"),
    pytest.param({"catalog-info.yaml": CATALOG}, id="catalog"),
])
def test_owner_known_passes_with_codeowners_default_or_catalog_owner(files):
    assert judge_repo("repo-owner-known", files).status == "pass"


def test_owner_known_fails_without_any_owner():
    finding = judge_repo("repo-owner-known", {"README.md": "# x\n",
                                              "examples/svc/catalog-info.yaml": CATALOG})
    assert finding.status == "fail" and finding.enforcement == "deny"
    assert problems(finding) == [("no owner: there is no CODEOWNERS file (root, .github/, docs/ "
                                  "or .gitlab/) and no Component with spec.owner in the root "
                                  "catalog-info.yaml", ".github/CODEOWNERS")]


def test_owner_known_fails_when_codeowners_only_covers_folders_or_unsets_the_default():
    partial = judge_repo("repo-owner-known", {"CODEOWNERS": "/docs/ @acme/writers\n"})
    assert problems(partial) == [("no owner: CODEOWNERS has no rule for the whole repository "
                                  "(`* @team`) and no Component in the root catalog-info.yaml "
                                  "names spec.owner", "CODEOWNERS")]
    unset = judge_repo("repo-owner-known", {".github/CODEOWNERS": "* @acme/a\n# later\n*\n"})
    assert problems(unset) == [("no owner: the rule `*` at .github/CODEOWNERS:3 has no owners, "
                                "so nobody owns the repository by default",
                                ".github/CODEOWNERS:3")]


def test_catalog_info_valid_passes_for_a_complete_component():
    assert judge_repo("repo-catalog-info-valid", {"catalog-info.yaml": CATALOG}).status == "pass"


def test_catalog_info_valid_fails_when_missing_from_the_root():
    finding = judge_repo("repo-catalog-info-valid", {
        "README.md": "# x\n", "examples/catalog-info.yaml": "kind: Component\n"})
    assert problems(finding) == [
        ("no catalog-info.yaml in the repository root: the repository is not registered in the "
         "service catalog", "catalog-info.yaml"),
        ("examples/catalog-info.yaml:1: Component: apiVersion is None, expected one of "
         "['backstage.io/v1alpha1', 'backstage.io/v1beta1']", "examples/catalog-info.yaml:1"),
        ("examples/catalog-info.yaml:1: Component: metadata.name is missing",
         "examples/catalog-info.yaml:1"),
        ("examples/catalog-info.yaml:1: Component: spec.owner is missing",
         "examples/catalog-info.yaml:1"),
        ("examples/catalog-info.yaml:1: Component: spec.type is missing",
         "examples/catalog-info.yaml:1"),
        ("examples/catalog-info.yaml:1: Component: spec.lifecycle is missing",
         "examples/catalog-info.yaml:1"),
    ]


def test_catalog_info_valid_names_file_line_and_each_missing_field():
    text = CATALOG.replace("  owner: team-shop\n", "").replace("  lifecycle: production\n", "")
    text += "---\napiVersion: backstage.io/v2\nkind: System\nmetadata: {name: shop}\nspec: {}\n"
    text += "---\nkind: API\nmetadata: {name: [oops\n"
    finding = judge_repo("repo-catalog-info-valid", {"catalog-info.yaml": text})
    assert finding.status == "fail"
    msgs = [m for m, _ in problems(finding)]
    assert msgs[:4] == [
        "catalog-info.yaml:1: Component 'shop-web': spec.owner is missing",
        "catalog-info.yaml:1: Component 'shop-web': spec.lifecycle is missing",
        "catalog-info.yaml:8: System 'shop': apiVersion is 'backstage.io/v2', expected one of "
        "['backstage.io/v1alpha1', 'backstage.io/v1beta1']",
        "catalog-info.yaml:8: System 'shop': spec.owner is missing",
    ]
    assert msgs[4].startswith("catalog-info.yaml:15: invalid YAML: ")
    assert [p for _, p in problems(finding)] == [
        "catalog-info.yaml:1", "catalog-info.yaml:1", "catalog-info.yaml:8",
        "catalog-info.yaml:8", "catalog-info.yaml:15"]


# --- README, SECURITY.md, LICENSE ----------------------------------------------------------

def test_readme_passes_when_present_and_substantial():
    assert judge_repo("repo-readme", {"README.md": README}).status == "pass"


def test_readme_fails_when_missing_and_warns_when_tiny():
    assert problems(judge_repo("repo-readme", {"main.py": ""})) == [
        ("no README (README.md in the root, .github/ or docs/)", "README.md")]
    tiny = judge_repo("repo-readme", {"docs/README.rst": "Shop\n====\n"})
    assert tiny.status == "warn"
    assert problems(tiny) == [("docs/README.rst is only 10 bytes (at least 200 expected): say "
                               "what the service does and how to run it", "docs/README.rst")]


def test_readme_required_sections_are_configurable():
    finding = judge_repo("repo-readme", {"README.md": README},
                         parameters={"required_sections": ["Getting started", "Runbook"]})
    assert finding.status == "fail"
    assert problems(finding) == [("README.md has no 'Runbook' section", "README.md")]


def test_security_policy_passes_in_github_folder_and_warns_when_missing():
    found = judge_repo("repo-security-policy", {".github/SECURITY.md": "Mail security@acme\n"})
    assert found.status == "pass"
    missing = judge_repo("repo-security-policy", {"README.md": README})
    assert missing.status == "fail" and missing.enforcement == "warn"
    assert problems(missing) == [("no SECURITY.md (root, .github/ or docs/)", "SECURITY.md")]


def test_license_present_missing_and_not_allowed():
    mit = ("MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining "
           "a copy ... The above copyright notice and this permission notice shall be included")
    assert judge_repo("repo-license", {"LICENSE": mit}).status == "pass"
    assert problems(judge_repo("repo-license", {"README.md": "x"})) == [
        ("no LICENSE file in the repository root", "LICENSE")]
    finding = judge_repo("repo-license", {"LICENSE.md": mit},
                         parameters={"allowed": ["Apache-2.0"]})
    assert problems(finding) == [("LICENSE.md is MIT; allowed: Apache-2.0", "LICENSE.md")]


# --- dependencies -------------------------------------------------------------------------

PYPROJECT = '[project]\nname = "shop"\ndependencies = ["fastapi>=0.110"]\n'
PACKAGE = '{"dependencies": {"react": "^18.3.0"}}'
DEPENDABOT = """
version: 2
updates:
  - package-ecosystem: pip
    directory: /
    schedule: {interval: weekly}
"""


@pytest.mark.parametrize("files", [
    pytest.param({"pyproject.toml": PYPROJECT,
                  "renovate.json": '{"extends": ["config:recommended"]}'}, id="renovate"),
    pytest.param({"pyproject.toml": PYPROJECT, ".github/dependabot.yml": DEPENDABOT},
                 id="dependabot"),
    pytest.param({"README.md": "no dependencies at all"}, id="no-manifests"),
])
def test_dependency_updates_pass(files):
    assert judge_repo("repo-dependency-updates", files).status == "pass"


def test_dependency_updates_fail_without_a_bot():
    finding = judge_repo("repo-dependency-updates", {"pyproject.toml": PYPROJECT,
                                                     "web/package.json": PACKAGE})
    assert finding.status == "fail"
    assert problems(finding) == [("no Renovate or Dependabot configuration, but the repository "
                                  "has dependency manifests (pyproject.toml, web/package.json)",
                                  "renovate.json")]


def test_dependabot_missing_an_ecosystem_warns_with_the_manifest():
    finding = judge_repo("repo-dependency-updates", {
        "pyproject.toml": PYPROJECT, "web/package.json": PACKAGE,
        ".github/dependabot.yml": DEPENDABOT})
    assert finding.status == "warn"
    assert problems(finding) == [(".github/dependabot.yml has no `package-ecosystem: npm` entry "
                                  "for web/package.json", ".github/dependabot.yml")]


def test_broken_dependabot_file_fails():
    finding = judge_repo("repo-dependency-updates", {
        "pyproject.toml": PYPROJECT, ".github/dependabot.yml": "version: 2\n"})
    assert problems(finding) == [(".github/dependabot.yml: no `updates` list",
                                  ".github/dependabot.yml")]


def test_lockfiles_pass_when_every_manifest_is_locked():
    finding = judge_repo("repo-lockfiles", {
        "pyproject.toml": PYPROJECT, "uv.lock": "version = 1\n",
        "web/package.json": PACKAGE, "web/package-lock.json": "{}",
        "requirements.txt": "flask==3.0.3\n", "pom.xml": "<project/>\n"})
    assert finding.status == "pass"


def test_lockfiles_fail_per_manifest_with_its_path():
    finding = judge_repo("repo-lockfiles", {
        "pyproject.toml": PYPROJECT, "web/package.json": PACKAGE, "go.mod": "module x\n"
        "require a.b/c v1.0.0\n", "requirements-dev.txt": "pytest>=8\nruff==0.6.9\n"})
    assert finding.status == "fail"
    assert problems(finding) == [
        ("go.mod: no lockfile; expected go.sum (go mod tidy)", "go.mod"),
        ("pyproject.toml: no lockfile; expected poetry.lock (poetry lock), uv.lock (uv lock) "
         "or pdm.lock (pdm lock)", "pyproject.toml"),
        ("requirements-dev.txt: 1 requirement(s) not pinned with == or --hash: pytest>=8",
         "requirements-dev.txt"),
        ("web/package.json: no lockfile; expected package-lock.json (npm install), yarn.lock "
         "or pnpm-lock.yaml", "web/package.json"),
    ]


# --- Dockerfiles ---------------------------------------------------------------------------

PINNED = f"""
ARG PY=3.12
FROM --platform=$BUILDPLATFORM golang:1.22@{DIGEST} AS build
RUN go build -o /app .
FROM python:${{PY}}-slim@{DIGEST}
COPY --from=build /app /app
USER 10001:10001
"""


def test_pinned_base_passes_with_tag_and_digest_and_ignores_stages_and_scratch():
    files = {"Dockerfile": PINNED,
             "tools/Dockerfile.static": f"FROM alpine:3.20@{DIGEST} AS b\nFROM b\nFROM scratch\n"}
    assert judge_repo("repo-dockerfile-pinned-base", files).status == "pass"


def test_pinned_base_names_file_and_line_of_each_unpinned_from():
    text = f"FROM node:20 AS deps\nFROM node@{DIGEST}\nFROM deps\nFROM nginx\n" \
        f"FROM nginx:latest@{DIGEST}\nARG BASE\nFROM $BASE\n"
    finding = judge_repo("repo-dockerfile-pinned-base", {"web/Dockerfile": text})
    assert finding.status == "fail"
    assert problems(finding) == [
        ("web/Dockerfile:1: base image 'node:20' is pinned by tag '20' only; add "
         "@sha256:<digest>", "web/Dockerfile:1"),
        (f"web/Dockerfile:2: base image 'node@{DIGEST}' has a digest but no tag; add the "
         "version tag before the digest", "web/Dockerfile:2"),
        ("web/Dockerfile:4: base image 'nginx' has neither a tag nor a digest",
         "web/Dockerfile:4"),
        (f"web/Dockerfile:5: base image 'nginx:latest@{DIGEST}' uses the :latest tag; name the "
         "version the digest belongs to", "web/Dockerfile:5"),
        ("web/Dockerfile:7: base image '$BASE' cannot be resolved (an ARG without a default); "
         "give the ARG a default", "web/Dockerfile:7"),
    ]


def test_non_root_passes_with_an_unprivileged_user_inherited_from_an_earlier_stage():
    files = {"Dockerfile": PINNED,
             "api.Dockerfile": f"FROM python:3.12@{DIGEST} AS base\nUSER app\nFROM base\n"}
    assert judge_repo("repo-dockerfile-non-root", files).status == "pass"


def test_non_root_fails_without_user_or_with_root():
    files = {"Dockerfile": f"FROM python:3.12@{DIGEST}\nRUN pip install x\n",
             "Dockerfile.admin": f"FROM alpine:3.20@{DIGEST} AS b\nUSER app\nFROM b\n"
                                 "USER 0:0\n"}
    finding = judge_repo("repo-dockerfile-non-root", files)
    assert finding.status == "fail"
    assert problems(finding) == [
        ("Dockerfile:1: the final stage sets no USER, so the image runs as root (unless its "
         "base image says otherwise)", "Dockerfile:1"),
        ("Dockerfile.admin:4: USER 0:0 runs the image as root", "Dockerfile.admin:4"),
    ]


def test_non_root_passes_when_there_is_no_dockerfile():
    assert judge_repo("repo-dockerfile-non-root", {"README.md": "x"}).status == "pass"


# --- tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("files", [
    pytest.param({"app/main.py": "x = 1\n", "tests/test_main.py": "def test(): pass\n"},
                 id="pytest"),
    pytest.param({"main.go": "package main\n", "main_test.go": "package main\n"}, id="go"),
    pytest.param({"src/index.ts": "", "src/index.test.ts": ""}, id="jest"),
    pytest.param({"docs/guide.md": "# only docs\n"}, id="no-code"),
])
def test_tests_present_passes(files):
    assert judge_repo("repo-tests-present", files).status == "pass"


def test_tests_present_fails_for_code_without_tests():
    finding = judge_repo("repo-tests-present", {"app/main.py": "x = 1\n",
                                                "pyproject.toml": PYPROJECT})
    assert finding.status == "fail"
    assert problems(finding) == [("source code but no tests (no tests/, test/, __tests__/, spec/ "
                                  "folder and no *_test.go, test_*.py, *.test.ts or *Test.java "
                                  "files)", "tests/")]
