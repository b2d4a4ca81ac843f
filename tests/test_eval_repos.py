"""`pathwarden eval --repo DIR`: a git checkout and its CI pipelines judged in CI, read in
place, through the same policies, governance, catalog mapping and output formats."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pathwarden.engine.cli.main import main
from pathwarden.engine.testing import pod

from .test_output_sarif import validate_sarif

SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
README = "# Shop web\n\nThe storefront.\n\n## Getting started\n\n" + "Run `make dev`.\n" * 20
WORKFLOW = """
name: CI
on:
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@{ref}
      - run: make test
"""
COMPLIANT = {
    "README.md": README,
    "SECURITY.md": "Report vulnerabilities to security@example.com.\n",
    "LICENSE": "Proprietary. All rights reserved.\n",
    ".github/CODEOWNERS": "* @acme/team-shop\n",
    "catalog-info.yaml": """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: shop-web}
        spec: {type: service, lifecycle: production, owner: team-shop}
        """,
    ".github/workflows/ci.yml": WORKFLOW.format(ref=SHA),
}
NONCOMPLIANT = {  # no owner, README, LICENSE…; an unpinned action and base image
    "app.py": "print('hi')\n",
    "Dockerfile": "FROM python:3.12\nUSER app\n",
    ".github/workflows/ci.yml": WORKFLOW.format(ref="v4"),
}


def make_repo(root: Path, files: dict[str, str], *, origin: str | None = None) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_DATE": "2024-05-01T12:00:00Z",
           "GIT_COMMITTER_DATE": "2024-05-01T12:00:00Z"}
    commands = [["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]]
    if origin:
        commands.append(["remote", "add", "origin", origin])
    for args in commands:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                        "-c", "commit.gpgsign=false", *args],
                       cwd=root, env=env, check=True, capture_output=True)
    return root


def run_json(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["eval", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def statuses(doc: dict) -> dict[tuple[str, str], str]:
    return {(r["target"]["id"], r["policy"]): r["status"] for r in doc["results"]}


def test_a_repository_and_its_pipelines_are_judged_beside_manifests(tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", NONCOMPLIANT)
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod(name="web", namespace="shop")), encoding="utf-8")
    code, doc, err = run_json(capsys, str(manifest), "--repo", str(repo))
    assert code == 1 and err == ""
    kinds = {r["target"]["id"]: r["target"]["kind"] for r in doc["results"]}
    assert kinds["repo:shop-web"] == "repo"
    assert kinds["pipeline:shop-web/.github/workflows/ci.yml"] == "pipeline"
    assert kinds["k8s:shop/v1/Pod/web"] == "k8s"
    found = statuses(doc)
    pipeline = "pipeline:shop-web/.github/workflows/ci.yml"
    assert found["repo:shop-web", "repo-owner-known"] == "fail"
    assert found["repo:shop-web", "repo-dockerfile-pinned-base"] == "fail"
    assert found["repo:shop-web", "pipeline-ci-exists"] == "pass"
    assert found[pipeline, "pipeline-actions-pinned"] == "fail"
    assert found[pipeline, "pipeline-runs-tests"] == "pass"
    record = next(r for r in doc["results"] if r["policy"] == "pipeline-actions-pinned")
    assert record["blocking"] is True
    assert record["target"]["file"] == str(repo / ".github/workflows/ci.yml")
    owner = next(r for r in doc["results"] if r["policy"] == "repo-owner-known")
    assert owner["target"]["file"] == str(repo)
    assert [v["path"] for v in owner["violations"]] == [".github/CODEOWNERS"]


def test_a_compliant_repository_exits_0(tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", COMPLIANT)
    code, doc, _ = run_json(capsys, "--repo", str(repo))
    assert code == 0
    assert doc["summary"]["blocking"] == 0
    # Only a warn-level policy fails (no security scanner in CI): it does not block.
    [failed] = [r for r in doc["results"] if r["status"] == "fail"]
    assert (failed["policy"], failed["enforcement"]) == ("pipeline-security-scan", "warn")
    found = statuses(doc)
    assert found["repo:shop-web", "repo-owner-known"] == "pass"
    assert found["pipeline:shop-web/.github/workflows/ci.yml", "pipeline-actions-pinned"] == \
        "pass"


def test_sarif_points_at_the_pipeline_line_and_at_repository_files(
        tmp_path, capsys, monkeypatch):
    repo = make_repo(tmp_path / "shop-web", NONCOMPLIANT)
    monkeypatch.chdir(repo)
    assert main(["eval", "--repo", ".", "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    validate_sarif(log)
    run = log["runs"][0]
    where = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in run["results"]}
    assert where["pipeline-actions-pinned"] == {
        "artifactLocation": {"uri": ".github/workflows/ci.yml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 10}}
    assert where["repo-dockerfile-pinned-base"] == {
        "artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1}}
    # A file still to add has nothing to point at: kept as a notification, not a result.
    assert "repo-owner-known" not in where
    notes = run["invocations"][0]["toolExecutionNotifications"]
    owner = next(n for n in notes if n["associatedRule"]["id"] == "repo-owner-known")
    assert owner["properties"]["target"] == "repo:shop-web"


def test_table_and_junit_name_repository_and_pipeline_targets(tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", NONCOMPLIANT)
    workflow = repo / ".github/workflows/ci.yml"
    assert main(["eval", "--repo", str(repo)]) == 1
    table = capsys.readouterr().out
    assert f"repo shop-web  ({repo})" in table
    assert f"pipeline shop-web/.github/workflows/ci.yml  ({workflow})" in table
    assert main(["eval", "--repo", str(repo), "--format", "junit"]) == 1
    junit = capsys.readouterr().out
    assert f'<testcase name="repo/shop-web" classname="repo-owner-known" time="0" ' \
        f'file="{repo}">' in junit
    assert '<testcase name="pipeline/shop-web/.github/workflows/ci.yml" ' \
        f'classname="pipeline-actions-pinned" time="0" file="{workflow}">' in junit


def test_a_directory_that_is_not_a_checkout_is_an_error_and_the_rest_is_judged(
        tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("# not a repository\n")
    good = make_repo(tmp_path / "shop-web", COMPLIANT)
    missing = tmp_path / "missing"
    code, doc, err = run_json(capsys, "--repo", str(plain), "--repo", str(good),
                              "--repo", str(missing), "--repo", str(good / ".github"))
    assert code == 2
    assert f"error: repo: {plain}: not a git repository" in err
    assert f"error: repo: {missing}: no such directory" in err
    assert f"error: repo: {good / '.github'}: not the root of a git checkout" in err
    assert {r["target"]["id"] for r in doc["results"]} == {
        "repo:shop-web", "pipeline:shop-web/.github/workflows/ci.yml"}
    assert {p["file"] for p in doc["problems"]} == {str(plain), str(missing),
                                                    str(good / ".github")}


def test_a_malformed_workflow_is_a_problem_and_the_repository_is_still_judged(
        tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", {**COMPLIANT, ".github/workflows/bad.yml": "a: [\n"})
    code, doc, err = run_json(capsys, "--repo", str(repo))
    assert code == 2 and "bad.yml" in err
    assert statuses(doc)["repo:shop-web", "repo-owner-known"] == "pass"


def test_eval_needs_a_path_or_a_repository(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["eval"])
    assert exit_.value.code == 2
    assert "give at least one PATH or --repo DIR" in capsys.readouterr().err


def test_waivers_cover_repository_findings(tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", NONCOMPLIANT)
    org = tmp_path / "org"
    org.mkdir()
    args = ["--repo", str(repo), "--policies", str(org), "--select", "repo-owner-known"]
    assert run_json(capsys, *args)[0] == 1
    expires = datetime.now(UTC).date() + timedelta(days=10)
    (org / "waiver.yaml").write_text(
        "apiVersion: pathwarden.dev/v1\nkind: Waiver\nmetadata: {name: shop-owner}\n"
        "spec: {policies: [repo-owner-known], repositories: [shop-web],\n"
        "       reason: moving teams, requestedBy: a, approvedBy: b,\n"
        f"       expires: {expires}}}\n", encoding="utf-8")
    code, doc, _ = run_json(capsys, *args)
    assert code == 0
    [record] = doc["results"]
    assert (record["status"], record["waiver"]) == ("waived", "shop-owner")


def test_the_catalog_gives_the_repository_and_its_pipelines_their_service(tmp_path, capsys):
    repo = make_repo(tmp_path / "shop-web", NONCOMPLIANT,
                     origin="git@github.com:acme/shop-web.git")
    (tmp_path / "catalog.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shop-web\n"
        "  annotations: {github.com/project-slug: acme/shop-web}\n"
        "spec: {type: service, lifecycle: production, owner: team-shop}\n", encoding="utf-8")
    config = tmp_path / "pathwarden.yaml"
    config.write_text("scan:\n  catalog: [catalog.yaml]\n", encoding="utf-8")
    code, doc, _ = run_json(capsys, "--repo", str(repo), "--config", str(config))
    assert code == 1
    services = {r["target"]["id"]: r["target"]["service"] for r in doc["results"]}
    assert services == {"repo:shop-web": "component:default/shop-web",
                        "pipeline:shop-web/.github/workflows/ci.yml":
                            "component:default/shop-web"}
