"""The repository source on real git repositories: clones, rescans, failures, key files."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pathwarden.engine.sources.dockerfile import parse_dockerfile
from pathwarden.engine.sources.git import normalise_url, redact, slug
from pathwarden.engine.sources.repo_cache import cache_path
from pathwarden.engine.sources.repo_files import guess_spdx, headings, parse_codeowners
from pathwarden.engine.sources.repos import RepoSpec, collect_repos

DATE = "2024-05-01T12:00:00+02:00"
DATE_UTC = "2024-05-01T10:00:00Z"


def git(cwd: Path, *args: str, date: str = DATE) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    done = subprocess.run(
        ["git", "-c", "user.name=Test Author", "-c", "user.email=t@example.com",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def make_repo(root: Path, files: dict[str, str], *, date: str = DATE) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    commit(root, files, date=date, message="initial")
    return root


def commit(root: Path, files: dict[str, str], *, date: str = DATE, message: str = "change") -> str:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message, date=date)
    return git(root, "rev-parse", "HEAD")


def bare_copy(src: Path, dest: Path) -> Path:
    git(src.parent, "clone", "-q", "--bare", str(src), str(dest))
    return dest


def one(specs: list[RepoSpec], cache: Path) -> dict[str, Any]:
    [collected] = collect_repos(specs, cache)
    assert collected.error is None, collected.error
    [target] = collected.targets
    return target.document["repository"]


def repo_document(tmp_path: Path, files: dict[str, str]) -> dict[str, Any]:
    """A committed work tree, read in place: how `pathwarden eval .` sees a checkout."""
    return one([RepoSpec(str(make_repo(tmp_path / "work", files)))], tmp_path / "cache")


# --- cloning, rescans, failures -----------------------------------------------------------

def test_file_url_is_shallow_cloned_into_the_cache(tmp_path):
    src = make_repo(tmp_path / "shop-web", {"README.md": "# Shop\n", "app/main.py": "x = 1\n"})
    head = git(src, "rev-parse", "HEAD")
    [collected] = collect_repos([RepoSpec(src.as_uri())], tmp_path / "cache")
    assert collected.source == "repo:shop-web" and collected.error is None
    [target] = collected.targets
    assert (target.ref.id, target.ref.kind, target.ref.name) == (
        "repo:shop-web", "repo", "shop-web")
    repo = target.document["repository"]
    assert Path(repo["path"]).parent == tmp_path / "cache"
    assert target.ref.location.file == repo["path"]
    assert repo["url"] == src.as_uri() and repo["slug"] is None
    assert (repo["branch"], repo["default_branch"]) == ("main", "main")
    assert repo["last_commit"] == {"sha": head, "time": DATE_UTC, "author": "Test Author",
                                   "author_email": "t@example.com"}
    assert repo["files"] == ["README.md", "app/main.py"]
    assert git(Path(repo["path"]), "rev-parse", "--is-shallow-repository") == "true"


def test_bare_repository_path_is_cloned_and_a_rescan_fetches_the_new_commit(tmp_path):
    src = make_repo(tmp_path / "src", {"README.md": "# one\n"})
    bare = bare_copy(src, tmp_path / "billing.git")
    cache = tmp_path / "cache"
    first = one([RepoSpec(str(bare))], cache)
    assert first["name"] == "billing" and first["url"] == bare.as_uri()
    assert first["files"] == ["README.md"]

    new_head = commit(src, {"SECURITY.md": "Report to security@example.com\n"},
                      date="2024-06-02T08:30:00Z")
    git(src, "push", "-q", str(bare), "main")
    second = one([RepoSpec(str(bare))], cache)
    assert second["path"] == first["path"]  # the cached clone was updated, not re-cloned
    assert second["last_commit"]["sha"] == new_head != first["last_commit"]["sha"]
    assert second["last_commit"]["time"] == "2024-06-02T08:30:00Z"
    assert second["files"] == ["README.md", "SECURITY.md"]
    assert second["security_policy"] == "SECURITY.md"
    assert git(Path(second["path"]), "rev-parse", "--is-shallow-repository") == "true"


def test_missing_repository_is_an_error_naming_it_and_the_others_are_collected(tmp_path):
    good = make_repo(tmp_path / "good", {"README.md": "# good\n"})
    missing = (tmp_path / "nowhere" / "gone.git").as_uri()
    cache = tmp_path / "cache"
    bad, ok = collect_repos([RepoSpec(missing), RepoSpec(good.as_uri())], cache)
    assert bad.source == "repo:gone" and bad.targets == []
    assert bad.error.startswith(f"repository {missing}: git clone failed: ")
    assert "does not appear to be a git repository" in bad.error
    assert ok.error is None and ok.targets[0].document["repository"]["files"] == ["README.md"]
    # Nothing half-cloned stays behind: only the good clone is in the cache.
    assert [p.name.startswith("good-") for p in cache.iterdir()] == [True]


def test_failed_rescan_is_an_error_and_keeps_no_temporary_folders(tmp_path):
    src = make_repo(tmp_path / "src", {"README.md": "# x\n"})
    bare = bare_copy(src, tmp_path / "svc.git")
    cache = tmp_path / "cache"
    one([RepoSpec(bare.as_uri())], cache)
    bare.rename(tmp_path / "moved.git")  # the remote is gone
    [collected] = collect_repos([RepoSpec(bare.as_uri())], cache)
    assert collected.targets == []
    assert collected.error == (f"repository {bare.as_uri()}: git fetch failed: '{bare}' does "
                               "not appear to be a git repository")
    assert [p.name.startswith("svc-") for p in cache.iterdir()] == [True]


def test_temporary_clones_left_by_a_killed_scan_are_removed(tmp_path):
    src = make_repo(tmp_path / "src", {"README.md": "# x\n"})
    cache = tmp_path / "cache"
    dest = cache_path(cache, "src", src.as_uri(), None)
    leftover = cache / f".{dest.name}.abc123.tmp"
    (leftover / ".git").mkdir(parents=True)
    os.utime(leftover, (0, 0))
    one([RepoSpec(src.as_uri())], cache)
    assert [p.name for p in cache.iterdir()] == [dest.name]


def test_credentials_in_a_url_never_reach_the_error(tmp_path):
    url = "https://deploy:s3cr3t-token@127.0.0.1:1/acme/api.git"
    [collected] = collect_repos([RepoSpec(url)], tmp_path / "cache", timeout=30)
    assert collected.error.startswith("repository https://127.0.0.1:1/acme/api.git: git clone")
    assert "s3cr3t" not in collected.error
    assert list((tmp_path / "cache").iterdir()) == []


def test_branch_selection_clones_that_branch_and_reports_the_default(tmp_path):
    src = make_repo(tmp_path / "api", {"README.md": "# api\n"})
    git(src, "checkout", "-q", "-b", "release")
    commit(src, {"CHANGELOG.md": "1.0\n"})
    git(src, "checkout", "-q", "main")
    repo = one([RepoSpec(src.as_uri(), name="api-release", branch="release")],
               tmp_path / "cache")
    assert repo["name"] == "api-release"
    assert (repo["branch"], repo["default_branch"]) == ("release", "main")
    assert repo["files"] == ["CHANGELOG.md", "README.md"]
    [missing] = collect_repos([RepoSpec(src.as_uri(), branch="nope")], tmp_path / "cache")
    assert "git clone failed: Remote branch nope not found" in missing.error


def test_local_work_tree_is_read_in_place(tmp_path):
    src = make_repo(tmp_path / "shop", {"README.md": "# shop\n"})
    git(src, "remote", "add", "origin", "git@github.com:acme/shop-web.git")
    (src / "untracked.txt").write_text("not committed")
    cache = tmp_path / "cache"
    repo = one([RepoSpec(str(src))], cache)
    assert repo["path"] == str(src.resolve())
    assert repo["url"] == "https://github.com/acme/shop-web" and repo["slug"] == "acme/shop-web"
    assert repo["branch"] == "main" and repo["files"] == ["README.md"]
    assert not cache.exists()


def test_local_work_tree_on_another_branch_is_cloned_not_switched(tmp_path):
    src = make_repo(tmp_path / "svc", {"README.md": "# svc\n"})
    git(src, "branch", "stable")
    repo = one([RepoSpec(str(src), branch="stable")], tmp_path / "cache")
    assert repo["branch"] == "stable" and Path(repo["path"]).parent == tmp_path / "cache"
    assert git(src, "symbolic-ref", "--short", "HEAD") == "main"


def test_plain_directory_is_walked_without_git_facts(tmp_path):
    write_files(tmp_path / "plain", {
        "README.md": "# plain\n", ".github/CODEOWNERS": "* @acme/team\n",
        ".gitlab-ci.yml": "test: {script: [make]}\n", ".cache/x": "skip",
        "node_modules/left-pad/package.json": "{}", "src/app.py": "x = 1\n"})
    repo = one([RepoSpec(str(tmp_path / "plain"))], tmp_path / "cache")
    assert repo["files"] == [".github/CODEOWNERS", ".gitlab-ci.yml", "README.md", "src/app.py"]
    assert (repo["url"], repo["branch"], repo["default_branch"], repo["last_commit"]) == (
        None, None, None, None)
    assert repo["codeowners"]["rules"][0]["owners"] == ["@acme/team"]


def test_subfolder_of_a_work_tree_is_a_plain_directory(tmp_path):
    mono = make_repo(tmp_path / "mono", {"svc/README.md": "# svc\n", "README.md": "# mono\n"})
    (mono / "svc" / "notes.txt").write_text("untracked but present")
    repo = one([RepoSpec(str(mono / "svc"))], tmp_path / "cache")
    assert repo["name"] == "svc" and repo["last_commit"] is None
    assert repo["files"] == ["README.md", "notes.txt"]


def test_missing_directory_and_duplicate_names_are_errors(tmp_path):
    good = make_repo(tmp_path / "a" / "svc", {"README.md": "x"})
    other = make_repo(tmp_path / "b" / "svc", {"README.md": "y"})
    missing, first, second = collect_repos(
        [RepoSpec(str(tmp_path / "nope")), RepoSpec(str(good)), RepoSpec(str(other))],
        tmp_path / "cache")
    assert missing.error == f"repository {tmp_path / 'nope'}: no such directory"
    assert first.error is None
    assert second.error.startswith(f"repository {other}: name 'svc' is already used by")


@pytest.mark.parametrize(("url", "normal", "owner_name"), [
    ("git@github.com:acme/shop.git", "https://github.com/acme/shop", "acme/shop"),
    ("ssh://git@gitlab.example.com:2222/grp/sub/api.git/", "https://gitlab.example.com/grp/sub/api",
     "grp/sub/api"),
    ("https://user:tok@github.com/acme/shop.git", "https://github.com/acme/shop", "acme/shop"),
    ("file:///srv/git/shop.git/", "file:///srv/git/shop.git", None),
])
def test_urls_are_normalised_without_credentials(url, normal, owner_name):
    assert normalise_url(url) == normal
    assert slug(normal) == owner_name
    assert "tok" not in redact(url)


# --- key files ---------------------------------------------------------------------------

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PY=3.12
ARG BASE=python:${PY}-slim
ARG DIGEST
FROM --platform=$BUILDPLATFORM golang:1.22@sha256:%s AS build
RUN go build \\
    # a comment inside a continuation
    -o /app .
FROM ${BASE} AS Runtime
COPY <<EOF /etc/app.conf
FROM evil:latest
EOF
ARG UID=10001
USER ${UID}:${UID}
FROM runtime
COPY --from=build /app /app
FROM scratch AS empty
FROM registry.local:5000/team/tool
FROM runtime AS final
""" % ("a" * 64)


def test_dockerfile_stages_with_args_platform_names_digests_and_stage_references():
    parsed = parse_dockerfile("Dockerfile", DOCKERFILE)
    stages = [{k: s[k] for k in ("from", "image", "tag", "digest", "name", "platform",
                                 "base_stage", "line")} for s in parsed["stages"]]
    assert stages == [
        {"from": "golang:1.22@sha256:" + "a" * 64, "image": "golang", "tag": "1.22",
         "digest": "sha256:" + "a" * 64, "name": "build", "platform": "$BUILDPLATFORM",
         "base_stage": None, "line": 5},
        {"from": "${BASE}", "image": "python", "tag": "3.12-slim", "digest": None,
         "name": "Runtime", "platform": None, "base_stage": None, "line": 9},
        {"from": "runtime", "image": "runtime", "tag": None, "digest": None, "name": None,
         "platform": None, "base_stage": "Runtime", "line": 15},
        {"from": "scratch", "image": "scratch", "tag": None, "digest": None, "name": "empty",
         "platform": None, "base_stage": None, "line": 17},
        {"from": "registry.local:5000/team/tool", "image": "registry.local:5000/team/tool",
         "tag": None, "digest": None, "name": None, "platform": None, "base_stage": None,
         "line": 18},
        {"from": "runtime", "image": "runtime", "tag": None, "digest": None, "name": "final",
         "platform": None, "base_stage": "Runtime", "line": 19},
    ]
    # The final stage inherits the USER of the stage it builds on.
    assert (parsed["user"], parsed["user_line"], parsed["error"]) == ("10001:10001", 14, None)


def test_dockerfile_escape_directive_unresolved_args_and_missing_from():
    text = "# escape=`\nARG IMAGE\nFROM ${IMAGE} AS base\nRUN echo `\n  hi\nUSER root\n"
    parsed = parse_dockerfile("build/api.Dockerfile", text)
    assert parsed["stages"][0]["image"] == "${IMAGE}" and parsed["stages"][0]["line"] == 3
    assert (parsed["user"], parsed["user_line"]) == ("root", 6)
    assert parse_dockerfile("Dockerfile", "# nothing\n")["error"] == "no FROM instruction"


def test_dockerfiles_are_found_by_name_in_the_repository(tmp_path):
    repo = repo_document(tmp_path, {
        "Dockerfile": "FROM alpine:3.20\n", "deploy/api.Dockerfile": "FROM alpine:3.20\n",
        "Dockerfile.dev": "FROM alpine:3.20\n", "Dockerfile.dockerignore": "*.tmp\n",
        "docs/dockerfile-guide.md": "# no\n"})
    assert [d["path"] for d in repo["dockerfiles"]] == [
        "Dockerfile", "Dockerfile.dev", "deploy/api.Dockerfile"]


def test_codeowners_rules_with_lines_escapes_and_gitlab_sections():
    text = ("# owners\n*       @acme/platform   # default\n/docs/  @acme/writers docs@acme.io\n"
            "\\#notes @acme/x\n\n[Backend][2] @acme/backend\n/api/\n^[Optional]\n/tmp/ @me\n")
    assert parse_codeowners(text) == [
        {"pattern": "*", "owners": ["@acme/platform"], "line": 2, "section": None},
        {"pattern": "/docs/", "owners": ["@acme/writers", "docs@acme.io"], "line": 3,
         "section": None},
        {"pattern": "#notes", "owners": ["@acme/x"], "line": 4, "section": None},
        {"pattern": "/api/", "owners": ["@acme/backend"], "line": 7, "section": "Backend"},
        {"pattern": "/tmp/", "owners": ["@me"], "line": 9, "section": "Optional"},
    ]


def test_codeowners_location_follows_github_precedence(tmp_path):
    repo = repo_document(tmp_path, {"CODEOWNERS": "* @root\n",
                                    ".github/CODEOWNERS": "* @github\n"})
    assert repo["codeowners"]["path"] == ".github/CODEOWNERS"
    assert repo["codeowners"]["rules"][0]["owners"] == ["@github"]


LICENCES = {
    "MIT": "MIT License\n\nCopyright (c) 2024 Acme\n\nPermission is hereby granted, free of "
           "charge, to any person obtaining a copy of this software ... The above copyright "
           "notice and this permission notice shall be included in all copies.",
    "Apache-2.0": "                                 Apache License\n"
                  "                           Version 2.0, January 2004\n",
    "BSD-3-Clause": "Redistribution and use in source and binary forms, with or without "
                    "modification, are permitted ... 3. Neither the name of the copyright "
                    "holder nor the names of its contributors may be used",
    "GPL-3.0": "                    GNU GENERAL PUBLIC LICENSE\n"
               "                       Version 3, 29 June 2007\n",
    "MPL-2.0": "Mozilla Public License Version 2.0\n==================================\n",
    None: "                   GNU LESSER GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n"
          "This version of the GNU Lesser General Public License incorporates version 3 of "
          "the GNU General Public License",
}


@pytest.mark.parametrize("spdx", list(LICENCES))
def test_licence_ids_are_guessed_from_the_text(spdx):
    assert guess_spdx(LICENCES[spdx]) == spdx


def test_licence_file_readme_security_policy_and_catalog(tmp_path):
    repo = repo_document(tmp_path, {
        "LICENCE.txt": LICENCES["Apache-2.0"],
        "Readme.md": "Shop\n====\n\n```\n# not a heading\n```\n## Getting started\nRun it.\n",
        ".github/SECURITY.md": "Mail security@acme.io\n",
        "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                             "metadata: {name: shop}\nspec: {owner: team-shop}\n---\n"
                             "kind: API\nmetadata: {name: [unclosed\n",
        "templates/skeleton/catalog-info.yaml": "metadata: {name: ${{ values.name }}}\n",
    })
    assert repo["license"] == {"path": "LICENCE.txt", "spdx": "Apache-2.0", "error": None}
    assert repo["readme"]["path"] == "Readme.md" and repo["readme"]["size"] == 62
    assert repo["readme"]["headings"] == [{"level": 1, "text": "Shop", "line": 1},
                                          {"level": 2, "text": "Getting started", "line": 7}]
    assert repo["security_policy"] == ".github/SECURITY.md"
    first, broken = repo["catalog"]
    assert (first["path"], first["line"], first["entity"]["spec"]["owner"]) == (
        "catalog-info.yaml", 1, "team-shop")
    assert broken["entity"] is None and broken["line"] == 8  # where the parser gave up
    assert broken["error"].startswith("invalid YAML: ")


def test_rst_headings_by_adornment_order():
    text = "Title\n=====\n\nUsage\n-----\n\nMore\n====\n"
    assert headings("README.rst", text) == [{"level": 1, "text": "Title", "line": 1},
                                            {"level": 2, "text": "Usage", "line": 4},
                                            {"level": 1, "text": "More", "line": 7}]


def test_lockfiles_per_ecosystem(tmp_path):
    repo = repo_document(tmp_path, {
        "web/package.json": '{"dependencies": {"react": "^18"}}',
        "web/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "packages/ui/package.json": '{"name": "ui", "dependencies": {"x": "1"}}',
        "package.json": '{"workspaces": ["packages/*"], "devDependencies": {"ts": "5"}}',
        "package-lock.json": "{}",
        "svc/pyproject.toml": '[project]\nname = "svc"\ndependencies = ["fastapi>=0.110"]\n',
        "svc/uv.lock": "version = 1\n",
        "lib/pyproject.toml": '[project]\nname = "lib"\ndependencies = ["attrs"]\n',
        "tools/pyproject.toml": "[tool.ruff]\nline-length = 100\n",
        "requirements.txt": "flask==3.0.3\nrequests==2.32.3 \\\n    --hash=sha256:abc\n",
        "requirements-dev.txt": "-r requirements.txt\npytest>=8\nruff==0.6.*\n",
        "go/go.mod": "module x\n\nrequire (\n  a.b/c v1.0.0 // indirect\n)\n",
        "go/go.sum": "a.b/c v1.0.0 h1:x\n",
        "cli/Cargo.toml": '[package]\nname = "cli"\n[dependencies]\nclap = "4"\n',
        "Gemfile": "source 'https://rubygems.org'\ngem 'rails'\n",
        "java/pom.xml": "<project/>\n",
        "android/build.gradle": "plugins {}\n",
        "php/composer.json": '{"require": {"php": ">=8.2", "ext-json": "*"}}',
        "Pipfile": '[packages]\nrequests = "*"\n', "Pipfile.lock": "{}",
        "node_modules/dep/package.json": "{}",
    })
    manifests = {m["path"]: (m["ecosystem"], m["lockfile"], m["pinned"])
                 for m in repo["dependency_manifests"]}
    assert manifests == {
        "Gemfile": ("bundler", None, False),
        "Pipfile": ("pip", "Pipfile.lock", True),
        "android/build.gradle": ("gradle", None, False),
        "cli/Cargo.toml": ("cargo", None, False),
        "go/go.mod": ("gomod", "go/go.sum", True),
        "java/pom.xml": ("maven", None, None),
        "lib/pyproject.toml": ("pip", None, False),
        "package.json": ("npm", "package-lock.json", True),
        "packages/ui/package.json": ("npm", "package-lock.json", True),
        "php/composer.json": ("composer", None, True),  # only php and extensions: nothing to lock
        "requirements-dev.txt": ("pip", None, False),
        "requirements.txt": ("pip", None, True),
        "svc/pyproject.toml": ("pip", "svc/uv.lock", True),
        "web/package.json": ("npm", "web/pnpm-lock.yaml", True),
    }
    dev = next(m for m in repo["dependency_manifests"] if m["path"] == "requirements-dev.txt")
    assert dev["unpinned"] == ["pytest>=8", "ruff==0.6.*"] and dev["dependencies"] == 2


def test_pip_compile_input_is_locked_by_its_txt(tmp_path):
    repo = repo_document(tmp_path, {"requirements.in": "flask\n",
                                    "requirements.txt": "flask==3.0.3\n",
                                    "dev-requirements/extra.in": "pytest\n"})
    found = {m["path"]: (m["lockfile"], m["pinned"]) for m in repo["dependency_manifests"]}
    assert found == {"requirements.in": ("requirements.txt", True),
                     "requirements.txt": (None, True)}


def test_renovate_and_dependabot_configuration(tmp_path):
    repo = repo_document(tmp_path / "a", {
        ".github/renovate.json5": "{extends: ['config:recommended']}\n",
        ".github/dependabot.yml": """
            version: 2
            updates:
              - package-ecosystem: pip
                directory: /
                schedule: {interval: weekly}
              - package-ecosystem: npm
                directories: [/web, /admin]
                schedule: {interval: weekly}
        """})
    updates = repo["dependency_updates"]
    assert updates["renovate"] == ".github/renovate.json5"
    assert updates["dependabot"] == {
        "path": ".github/dependabot.yml", "ecosystems": ["npm", "pip"], "error": None,
        "updates": [{"ecosystem": "pip", "directories": ["/"]},
                    {"ecosystem": "npm", "directories": ["/web", "/admin"]}]}
    legacy = repo_document(tmp_path / "b", {"package.json": '{"renovate": {"extends": []}}',
                                            ".github/dependabot.yaml": "updates: [\n"})
    assert legacy["dependency_updates"]["renovate"] == "package.json"
    assert legacy["dependency_updates"]["dependabot"]["error"].startswith("invalid YAML")


def test_tests_and_workflows_are_listed(tmp_path):
    repo = repo_document(tmp_path, {
        "tests/test_api.py": "", "svc/handler_test.go": "", "web/src/__tests__/a.js": "",
        "web/src/b.test.ts": "", "java/src/test/java/FooTest.java": "", "src/app.py": "",
        "vendor/lib/x_test.go": "", ".github/workflows/ci.yml": "on: push\n",
        ".github/workflows/sub/not.yml": "", ".gitlab-ci.yml": "x: {script: [a]}\n"})
    assert repo["tests"]["dirs"] == ["java/src/test/", "tests/", "web/src/__tests__/"]
    assert repo["tests"]["files"] == ["java/src/test/java/FooTest.java", "svc/handler_test.go",
                                      "tests/test_api.py", "web/src/__tests__/a.js",
                                      "web/src/b.test.ts"]
    assert repo["tests"]["file_count"] == 5
    assert repo["workflows"] == [".github/workflows/ci.yml", ".gitlab-ci.yml"]


def test_symlinks_out_of_the_repository_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("Permission is hereby granted, free of charge, to any person obtaining a"
                      " copy. The above copyright notice and this permission notice shall be "
                      "included")
    work = make_repo(tmp_path / "work", {"README.md": "# x\n"})
    (work / "LICENSE").symlink_to(secret)
    commit(work, {})
    repo = one([RepoSpec(str(work))], tmp_path / "cache")
    assert repo["license"] == {"path": "LICENSE", "spdx": None,
                               "error": "points outside the repository (symlink)"}
