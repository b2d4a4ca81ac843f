"""The pipeline source: GitHub Actions workflows and GitLab CI read into one document shape."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pathwarden.engine.sources.pipeline_shape import parse_uses, split_image
from pathwarden.engine.sources.pipelines import collect_pipelines, pipeline_files

SHA = "8e5e7e5ab8b370d6c329ec480221332ada57f0ab"


def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return tmp_path


def pipelines(tmp_path: Path, files: dict[str, str]) -> dict[str, dict]:
    collected = collect_pipelines(repo(tmp_path, files), "github.com/acme/shop", "shop")
    assert collected.problems == []
    return {t.document["pipeline"]["path"]: t.document["pipeline"] for t in collected.targets}


def workflow(tmp_path: Path, text: str) -> dict:
    return pipelines(tmp_path, {".github/workflows/ci.yml": text})[".github/workflows/ci.yml"]


CI = f"""
name: CI
on:
  push:
    branches: [main]
    tags: ['v*']
  pull_request:
    branches: [main]
  schedule:
    - cron: "0 4 * * 1"
  workflow_dispatch:
permissions:
  contents: read
env:
  DEBUG: yes
  RETRIES: 3
jobs:
  test:
    name: Test (${{{{ matrix.python }}}})
    runs-on: ${{{{ matrix.os }}}}
    strategy:
      matrix:
        os: [ubuntu-latest, macos-latest]
        python: ["3.11", "3.12"]
    container:
      image: python:3.12-slim@sha256:{"b" * 64}
    services:
      redis:
        image: redis:7
    env:
      PYTHONDONTWRITEBYTECODE: 1
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@{SHA}
        with:
          python-version: ${{{{ matrix.python }}}}
      - name: Run tests
        run: |
          pip install -e .[test]
          pytest -q
        env:
          TOKEN: ${{{{ secrets.PYPI_TOKEN }}}}
  deploy:
    needs: [test]
    if: github.ref == 'refs/heads/main'
    environment:
      name: production
      url: https://shop.example
    permissions:
      contents: read
      id-token: write
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/deploy
      - uses: docker://ghcr.io/acme/deployer:1.4
        with:
          password: ${{{{ secrets['REGISTRY_PASSWORD'] }}}}
  shared:
    uses: acme/workflows/.github/workflows/release.yml@main
    secrets: inherit
"""


def test_a_workflow_becomes_one_pipeline_target(tmp_path):
    root = repo(tmp_path, {".github/workflows/ci.yml": CI})
    collected = collect_pipelines(root, "github.com/acme/shop", "shop")
    assert collected.source == "pipelines:shop"
    assert collected.problems == [] and collected.error is None
    [target] = collected.targets
    assert target.id == "pipeline:shop/.github/workflows/ci.yml"
    assert (target.kind, target.ref.name) == ("pipeline", "shop/.github/workflows/ci.yml")
    assert target.ref.location.file == str(root / ".github/workflows/ci.yml")
    document = target.document
    assert document["repository_pipelines"] == [document["pipeline"]]
    pipeline = document["pipeline"]
    assert (pipeline["system"], pipeline["path"], pipeline["repository"], pipeline["name"]) == (
        "github-actions", ".github/workflows/ci.yml", "github.com/acme/shop", "CI")


def test_on_is_a_string_key_and_its_mapping_form_gives_events_branches_and_tags(tmp_path):
    pipeline = workflow(tmp_path, CI)
    assert [(t["event"], t["branches"], t["tags"], t["line"]) for t in pipeline["triggers"]] == [
        ("push", ["main"], ["v*"], 3),
        ("pull_request", ["main"], [], 6),
        ("schedule", [], [], 8),
        ("workflow_dispatch", [], [], 10),
    ]
    assert pipeline["triggers"][2]["config"] == [{"cron": "0 4 * * 1"}]
    assert pipeline["env"] == {"DEBUG": "yes", "RETRIES": "3"}  # YAML 1.2: yes is a string


@pytest.mark.parametrize(("on", "events"), [
    ("on: push", ["push"]),
    ("on: [push, pull_request_target]", ["push", "pull_request_target"]),
    ("'on': {workflow_run: {workflows: [CI], types: [completed]}}", ["workflow_run"]),
    ("true: push", ["push"]),  # written for a YAML 1.1 reader: still the trigger key
])
def test_on_in_every_form(tmp_path, on, events):
    text = f"{on}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{{run: make}}]\n"
    assert [t["event"] for t in workflow(tmp_path, text)["triggers"]] == events


def test_github_reads_yaml_1_2_scalars(tmp_path):
    text = "on: push\nenv: {A: on, B: no, C: 2024-01-01, D: true}\njobs: {}\n"
    assert workflow(tmp_path, text)["env"] == {"A": "on", "B": "no", "C": "2024-01-01",
                                              "D": "true"}


def test_permissions_are_none_when_unset_so_policies_see_the_repository_default(tmp_path):
    pipeline = workflow(tmp_path, CI)
    assert pipeline["permissions"] == {"contents": "read"}
    jobs = {j["id"]: j for j in pipeline["jobs"]}
    assert jobs["test"]["permissions"] is None
    assert jobs["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    text = "on: push\npermissions: read-all\njobs: {a: {runs-on: x, permissions: {}}}\n"
    other = workflow(tmp_path, text)
    assert other["permissions"] == "read-all"
    assert other["jobs"][0]["permissions"] == {}
    assert workflow(tmp_path, "on: push\njobs: {}\n")["permissions"] is None


def test_jobs_matrix_container_services_and_line_numbers(tmp_path):
    jobs = {j["id"]: j for j in workflow(tmp_path, CI)["jobs"]}
    test = jobs["test"]
    assert test["name"] == "Test (${{ matrix.python }})"
    assert test["runs_on"] == "${{ matrix.os }}"
    assert test["strategy"]["matrix"]["python"] == ["3.11", "3.12"]
    assert test["image"].startswith("python:3.12-slim@sha256:")
    assert test["services"][0]["name"] == "redis" and test["services"][0]["image"] == "redis:7"
    assert test["env"] == {"PYTHONDONTWRITEBYTECODE": "1"}
    assert (test["path"], test["line"], test["lines"]["steps"]) == ("jobs.test", 17, 31)
    assert [(s["index"], s["path"], s["line"]) for s in test["steps"]] == [
        (0, "jobs.test.steps[0]", 32),
        (1, "jobs.test.steps[1]", 33),
        (2, "jobs.test.steps[2]", 36),
    ]
    step = test["steps"][2]
    assert step["name"] == "Run tests"
    assert step["run"] == "pip install -e .[test]\npytest -q\n"
    assert step["lines"]["run"] == 37
    assert test["steps"][0]["name"] == "Run actions/checkout@v4"  # GitHub's display name
    assert test["steps"][1]["with"] == {"python-version": "${{ matrix.python }}"}
    deploy = jobs["deploy"]
    assert (deploy["needs"], deploy["environment"]) == (["test"], "production")
    assert deploy["if"] == "github.ref == 'refs/heads/main'"


def test_uses_forms_are_parsed_and_flattened(tmp_path):
    pipeline = workflow(tmp_path, CI)
    flat = [(u["raw"], u["kind"], u["ref_kind"], u["pinned"], u["path"], u["line"])
            for u in pipeline["uses_actions"]]
    assert flat == [
        ("actions/checkout@v4", "action", "tag", False, "jobs.test.steps[0].uses", 32),
        (f"actions/setup-python@{SHA}", "action", "sha", True, "jobs.test.steps[1].uses", 33),
        ("./.github/actions/deploy", "action", "local", False, "jobs.deploy.steps[0].uses", 53),
        ("docker://ghcr.io/acme/deployer:1.4", "action", "docker", False,
         "jobs.deploy.steps[1].uses", 54),
        ("acme/workflows/.github/workflows/release.yml@main", "workflow", "branch", False,
         "jobs.shared.uses", 58),
    ]
    shared = next(j for j in pipeline["jobs"] if j["id"] == "shared")
    assert shared["uses"]["subpath"] == ".github/workflows/release.yml"
    assert shared["secrets"] == "inherit" and shared["steps"] == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("actions/checkout@v4", {"action": "actions/checkout", "owner": "actions",
                             "repo": "checkout", "subpath": None, "ref": "v4",
                             "ref_kind": "tag", "pinned": False}),
    (f"github/codeql-action/init@{SHA}", {"action": "github/codeql-action/init",
                                          "subpath": "init", "ref": SHA, "ref_kind": "sha",
                                          "pinned": True}),
    ("acme/tool@main", {"ref": "main", "ref_kind": "branch", "pinned": False}),
    ("acme/tool@1.2.3-rc.1", {"ref_kind": "tag"}),
    ("acme/tool@8e5e7e5", {"ref_kind": "branch", "pinned": False}),  # short SHAs are refs
    ("./.github/actions/setup", {"action": "./.github/actions/setup", "ref": None,
                                 "ref_kind": "local", "pinned": False}),
    ("docker://alpine:3.20", {"action": "docker://alpine", "ref": "3.20",
                              "ref_kind": "docker", "pinned": False}),
    (f"docker://alpine@sha256:{'c' * 64}", {"ref": f"sha256:{'c' * 64}", "pinned": True}),
])
def test_parse_uses(raw, expected):
    parsed = parse_uses(raw)
    assert parsed["raw"] == raw
    assert {k: parsed[k] for k in expected} == expected


def test_images_split_tag_and_digest_and_a_registry_port_is_not_a_tag():
    assert split_image("registry:5000/team/app") == {
        "image": "registry:5000/team/app", "name": "registry:5000/team/app", "tag": None,
        "digest": None}
    assert split_image("ghcr.io/a/b:1.2@sha256:abc") == {
        "image": "ghcr.io/a/b:1.2@sha256:abc", "name": "ghcr.io/a/b", "tag": "1.2",
        "digest": "sha256:abc"}


def test_images_and_secret_names_of_a_workflow(tmp_path):
    pipeline = workflow(tmp_path, CI)
    assert [(i["name"], i["tag"], bool(i["digest"]), i["path"]) for i in pipeline["images"]] == [
        ("python", "3.12-slim", True, "jobs.test.container"),
        ("redis", "7", False, "jobs.test.services.redis"),
        ("ghcr.io/acme/deployer", "1.4", False, "jobs.deploy.steps[1].uses"),
    ]
    assert pipeline["secrets_used"] == ["PYPI_TOKEN", "REGISTRY_PASSWORD"]


GITLAB = """
include:
  - local: /ci/build.yml
  - local: ci/missing-dir/*.yml
  - remote: https://gitlab.example.com/templates/deploy.yml
  - template: Security/SAST.gitlab-ci.yml
  - project: platform/ci
    ref: v2
    file: [/lint.yml]
stages: [build, test, deploy]
variables:
  REGISTRY: registry.acme.example
  DEBUG: yes
default:
  image: python:3.12
  before_script:
    - pip install -r requirements.txt
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS
      when: never
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
    - if: $CI_COMMIT_TAG
.python: &python
  stage: test
  tags: [docker]
  script:
    - pytest -q
unit:
  extends: .python
  variables:
    DATABASE_URL: postgres://ci@db/ci
  services:
    - name: postgres:16
      alias: db
lint:
  <<: *python
  script:
    - !reference [.python, script]
    - ruff check .
deploy:
  stage: deploy
  image: registry.acme.example/tools/deployer:1.4@sha256:abc
  inherit:
    default: false
    variables: [REGISTRY]
  environment: production
  needs: [unit, {job: lint, artifacts: false}]
  id_tokens:
    AWS_TOKEN: {aud: sts.amazonaws.com}
  secrets:
    DATABASE_PASSWORD: {vault: prod/db/password@secret}
  script:
    - deploy --token "$DEPLOY_TOKEN" --region $CI_REGION
"""
GITLAB_FOUND = GITLAB.replace("  - local: ci/missing-dir/*.yml\n", "")
"""The same pipeline without the include that matches nothing (lines shift up by one)."""
BUILD = """
build:
  stage: build
  script: go build ./...
unit:
  variables:
    GOFLAGS: -mod=readonly
"""


def test_gitlab_pipeline_merges_local_includes_and_lists_the_others(tmp_path):
    root = repo(tmp_path, {".gitlab-ci.yml": GITLAB, "ci/build.yml": BUILD})
    collected = collect_pipelines(root, "gitlab.com/acme/shop", "shop")
    [problem] = collected.problems  # the glob that matches nothing
    assert (problem.location.file, problem.location.line) == (str(root / ".gitlab-ci.yml"), 3)
    [target] = collected.targets
    assert target.id == "pipeline:shop/.gitlab-ci.yml"
    pipeline = target.document["pipeline"]
    assert pipeline["system"] == "gitlab-ci" and pipeline["stages"] == ["build", "test", "deploy"]
    assert [(i["kind"], i["loaded"], i["line"]) for i in pipeline["includes"]] == [
        ("local", True, 2), ("local", False, 3), ("remote", False, 4), ("template", False, 5),
        ("project", False, 6)]
    assert pipeline["includes"][4]["project_files"] == ["/lint.yml"]
    assert {i["file"] for i in pipeline["includes"]} == {".gitlab-ci.yml"}
    assert pipeline["env"] == {"REGISTRY": "registry.acme.example", "DEBUG": "true"}
    assert [j["id"] for j in pipeline["jobs"]] == ["build", "unit", "lint", "deploy"]


def test_gitlab_jobs_resolve_extends_anchors_references_and_defaults(tmp_path):
    pipeline = pipelines(tmp_path, {".gitlab-ci.yml": GITLAB_FOUND, "ci/build.yml": BUILD})
    pipeline = pipeline[".gitlab-ci.yml"]
    jobs = {j["id"]: j for j in pipeline["jobs"]}
    build, unit, lint, deploy = jobs["build"], jobs["unit"], jobs["lint"], jobs["deploy"]
    assert (build["file"], build["line"], build["stage"]) == ("ci/build.yml", 1, "build")
    assert [(s["name"], s["run"], s["file"], s["line"]) for s in build["steps"]] == [
        ("before_script", "pip install -r requirements.txt", ".gitlab-ci.yml", 14),
        ("script", "go build ./...", "ci/build.yml", 3),
    ]
    # unit: defined in both files (merged), extends .python, keeps the default image
    assert (unit["file"], unit["stage"], unit["runs_on"], unit["image"]) == (
        ".gitlab-ci.yml", "test", ["docker"], "python:3.12")
    assert unit["env"] == {"REGISTRY": "registry.acme.example", "DEBUG": "true",
                           "GOFLAGS": "-mod=readonly", "DATABASE_URL": "postgres://ci@db/ci"}
    assert unit["services"] == [{"name": "db", "image": "postgres:16",
                                 "config": {"name": "postgres:16", "alias": "db"}}]
    assert [(s["path"], s["line"]) for s in unit["steps"]] == [
        ("unit.before_script", 14), ("unit.script", 26)]  # script comes from .python
    assert lint["steps"][1]["run"] == "pytest -q\nruff check ."
    assert lint["steps"][1]["line"] == 37 and lint["stage"] == "test"
    assert deploy["image"] == "registry.acme.example/tools/deployer:1.4@sha256:abc"
    assert [s["name"] for s in deploy["steps"]] == ["script"]  # inherit: default: false
    assert deploy["env"] == {"REGISTRY": "registry.acme.example"}
    assert (deploy["environment"], deploy["needs"]) == ("production", ["unit", "lint"])
    assert deploy["id_tokens"] == {"AWS_TOKEN": {"aud": "sts.amazonaws.com"}}
    assert pipeline["secrets_used"] == ["DATABASE_PASSWORD", "DEPLOY_TOKEN"]
    assert ("postgres", "16", "unit.services[0]") in [
        (i["name"], i["tag"], i["path"]) for i in pipeline["images"]]


def test_gitlab_triggers_come_from_workflow_rules(tmp_path):
    pipeline = pipelines(tmp_path, {".gitlab-ci.yml": GITLAB_FOUND, "ci/build.yml": BUILD})
    triggers = pipeline[".gitlab-ci.yml"]["triggers"]
    assert [(t["event"], t["branches"], t["line"]) for t in triggers] == [
        ("merge_request", [], 18), ("push", ["$CI_DEFAULT_BRANCH"], 21), ("tag", [], 22)]


@pytest.mark.parametrize(("text", "events"), [
    ("test: {script: [make]}\n", ["push", "tag"]),
    ("test:\n  script: [make]\n  only: [merge_requests, main]\n", ["merge_request", "push"]),
    ("test:\n  script: [make]\n  rules:\n    - if: $CI_PIPELINE_SOURCE == 'schedule'\n",
     ["schedule"]),
])
def test_gitlab_triggers_without_workflow_rules_come_from_the_jobs(tmp_path, text, events):
    pipeline = pipelines(tmp_path, {".gitlab-ci.yml": text})[".gitlab-ci.yml"]
    assert [t["event"] for t in pipeline["triggers"]] == events


def test_malformed_yaml_is_reported_with_file_and_line_and_the_others_still_load(tmp_path):
    root = repo(tmp_path, {
        ".github/workflows/ci.yml": CI,
        ".github/workflows/broken.yaml": "on: push\njobs:\n  a: [unclosed\n  b: 1\n",
        ".github/workflows/list.yml": "- just\n- a list\n",
        ".github/workflows/README.md": "not a workflow",
        ".gitlab-ci.yml": "include: [{local: ci/bad.yml}]\ntest: {script: [make test]}\n",
        "ci/bad.yml": "build:\n  script: [\n",
    })
    collected = collect_pipelines(root, "github.com/acme/shop", "shop")
    assert sorted(t.document["pipeline"]["path"] for t in collected.targets) == [
        ".github/workflows/ci.yml", ".gitlab-ci.yml"]
    problems = {(Path(p.location.file).name, p.location.line, p.step) for p in collected.problems}
    assert problems == {("broken.yaml", 4, "parse"), ("list.yml", 1, "parse"),
                        ("bad.yml", 3, "parse")}
    assert all("invalid YAML" in p.message for p in collected.problems
               if not p.location.file.endswith("list.yml"))


def test_a_missing_checkout_is_the_source_error(tmp_path):
    collected = collect_pipelines(tmp_path / "nope", "github.com/acme/shop", "shop")
    assert collected.error and collected.targets == []


def test_pipeline_files_lists_only_what_github_and_gitlab_read(tmp_path):
    root = repo(tmp_path, {".github/workflows/a.yml": "on: push\n",
                           ".github/workflows/b.yaml": "on: push\n",
                           ".github/workflows/nested/c.yml": "on: push\n",
                           ".github/workflows/notes.txt": "x",
                           ".gitlab-ci.yml": "test: {script: [make]}\n"})
    assert pipeline_files(root) == [".github/workflows/a.yml", ".github/workflows/b.yaml",
                                    ".gitlab-ci.yml"]
    assert pipeline_files(tmp_path / "empty") == []


def test_every_target_sees_the_repository_pipelines(tmp_path):
    root = repo(tmp_path, {".github/workflows/a.yml": "on: push\njobs: {}\n",
                           ".gitlab-ci.yml": "test: {script: [make]}\n"})
    targets = collect_pipelines(root, "r", "shop").targets
    siblings = [t.document["repository_pipelines"] for t in targets]
    assert siblings[0] is siblings[1]
    assert [p["system"] for p in siblings[0]] == ["github-actions", "gitlab-ci"]
