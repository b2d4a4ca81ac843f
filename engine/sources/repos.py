"""Git repositories -> one `repo` target each, whose document policies judge.

Local work trees are read in place (the developer's checkout, `pathwarden eval .`); URLs
and bare repositories are shallow-cloned into a cache and refreshed on each scan. One
repository that cannot be cloned is that repository's error, and the others are still
collected. The document shape is the public contract for repository policies (README,
"The repository document").
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import Location, Target, TargetRef
from . import git
from .base import Collected
from .dockerfile import is_dockerfile, parse_dockerfile
from .repo_cache import cache_path, sync
from .repo_deps import dependency_manifests, dependency_updates
from .repo_files import (
    catalog,
    codeowners,
    license_file,
    readme,
    security_policy,
    skipped,
    tests,
    workflows,
)
from .repo_reader import RepoReader

WALK_SKIP = frozenset({".git", "node_modules", "__pycache__"})
WALK_KEEP_HIDDEN = frozenset({".github", ".gitlab"})
"""Hidden folders that hold key files (CODEOWNERS, dependabot.yml, workflows)."""


@dataclass(frozen=True, slots=True)
class RepoSpec:
    url_or_path: str
    name: str | None = None
    branch: str | None = None

    @property
    def display_name(self) -> str:
        """The given name, else the last path segment without `.git`."""
        if self.name:
            return self.name
        if not git.is_remote_url(self.url_or_path):
            return Path(self.url_or_path).expanduser().resolve().name.removesuffix(".git") \
                or "repo"
        tail = self.url_or_path.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
        return tail.removesuffix(".git") or "repo"


@dataclass(frozen=True, slots=True)
class Checkout:
    """Where the files are, and what git says about them (None for a plain folder)."""

    path: Path
    url: str | None
    is_git: bool
    branch: str | None
    default_branch: str | None


def collect_repos(specs: Iterable[RepoSpec], cache_dir: Path, *, timeout: float = 300.0,
                  workers: int = 4) -> list[Collected]:
    """One Collected per spec, in order; clones run `workers` at a time."""
    specs = list(specs)
    seen: dict[str, str] = {}
    duplicate: dict[int, str] = {}
    for i, spec in enumerate(specs):
        name = spec.display_name
        if name in seen:
            duplicate[i] = (f"repository {git.redact(spec.url_or_path)}: name {name!r} is "
                            f"already used by {seen[name]}; give it a distinct name")
        else:
            seen[name] = git.redact(spec.url_or_path)

    def one(item: tuple[int, RepoSpec]) -> Collected:
        i, spec = item
        if i in duplicate:
            return Collected(f"repo:{spec.display_name}", error=duplicate[i])
        return collect_repo(spec, cache_dir, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, enumerate(specs)))


def collect_repo(spec: RepoSpec, cache_dir: Path, *, timeout: float = 300.0) -> Collected:
    name = spec.display_name
    collected = Collected(f"repo:{name}")
    shown = git.redact(spec.url_or_path)
    try:
        checkout = _checkout(spec, cache_dir, timeout)
        document = repository_document(name, checkout)
    except (git.GitError, _NotARepository) as exc:
        collected.error = f"repository {shown}: {exc}"
        return collected
    except OSError as exc:  # the cache folder cannot be written, a file vanished mid-read, …
        where = f" ({exc.filename})" if exc.filename else ""
        collected.error = f"repository {shown}: {exc.strerror or exc}{where}"
        return collected
    ref = TargetRef(id=f"repo:{name}", kind="repo", name=name,
                    location=Location(str(checkout.path)))
    collected.targets.append(Target(ref, {"repository": document}))
    return collected


class _NotARepository(Exception):
    pass


def _checkout(spec: RepoSpec, cache_dir: Path, timeout: float) -> Checkout:
    source = spec.url_or_path
    if not git.is_remote_url(source):
        path = Path(source).expanduser()
        if not path.is_dir():
            raise _NotARepository("no such directory")
        path = path.resolve()
        if git.is_bare(path):
            return _cloned(path.as_uri(), spec, cache_dir, timeout)
        if git.toplevel(path) == path:
            current = git.current_branch(path)
            if spec.branch and spec.branch != current:
                # Never switch the branch of someone's checkout: clone the wanted branch.
                return _cloned(path.as_uri(), spec, cache_dir, timeout)
            remote = git.origin_url(path)
            return Checkout(path, git.normalise_url(remote) if remote else None, True,
                            current, git.origin_head(path) or current)
        return Checkout(path, None, False, None, None)
    return _cloned(source, spec, cache_dir, timeout)


def _cloned(url: str, spec: RepoSpec, cache_dir: Path, timeout: float) -> Checkout:
    dest = cache_path(cache_dir, spec.display_name, url, spec.branch)
    sync(url, dest, spec.branch, timeout)
    branch = spec.branch or git.current_branch(dest)
    default = git.origin_head(dest) if not spec.branch else \
        git.remote_default_branch(dest, timeout)
    return Checkout(dest, git.normalise_url(url), True, branch, default)


def repository_document(name: str, checkout: Checkout) -> dict[str, Any]:
    """The `repository` object of a repo target (README: "The repository document")."""
    path = checkout.path
    files = git.tracked_files(path) if checkout.is_git else walk_files(path)
    reader = RepoReader(path, files)
    commit = git.last_commit(path) if checkout.is_git else None
    return {
        "name": name,
        "url": checkout.url,
        "slug": git.slug(checkout.url),
        "path": str(path),
        "branch": checkout.branch,
        "default_branch": checkout.default_branch,
        "last_commit": None if commit is None else {
            "sha": commit.sha, "time": commit.time, "author": commit.author,
            "author_email": commit.author_email},
        "files": files,
        "catalog": catalog(reader),
        "codeowners": codeowners(reader),
        "readme": readme(reader),
        "security_policy": security_policy(reader),
        "license": license_file(reader),
        "dockerfiles": dockerfiles(reader),
        "dependency_manifests": dependency_manifests(reader),
        "dependency_updates": dependency_updates(reader),
        "tests": tests(reader),
        "workflows": workflows(reader),
    }


def dockerfiles(reader: RepoReader) -> list[dict[str, Any]]:
    found = []
    for path in reader.files:
        if is_dockerfile(path) and not skipped(path):
            text, error = reader.read(path)
            if text is None:
                found.append({"path": path, "stages": [], "user": None, "user_line": None,
                              "error": error})
            else:
                found.append(parse_dockerfile(path, text))
    return found


def walk_files(root: Path) -> list[str]:
    """A folder that is not a git work tree: every file, minus VCS data, dependencies
    installed into the tree, and hidden folders other than .github/.gitlab."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in WALK_SKIP
                   and (not d.startswith(".") or d in WALK_KEEP_HIDDEN)]
        rel = Path(folder).relative_to(root)
        for name in names:
            full = Path(folder) / name
            if full.is_file() and not full.is_symlink():
                files.append((rel / name).as_posix())
    return sorted(files)
