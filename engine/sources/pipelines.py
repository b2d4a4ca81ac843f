"""CI pipeline configuration in a repository checkout -> `pipeline` targets.

One target per GitHub Actions workflow file and one for the GitLab pipeline (the main file
with its local includes). Both systems land in one documented shape (README, "Pipeline
targets"), so a policy is written once for both. A file that does not parse is reported
with its line and skipped; the other pipelines of the repository are still collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Problem
from ..model import Location, Target, TargetRef
from .base import Collected
from .gha import parse_workflow
from .gitlab_ci import MAIN_FILE, parse_gitlab
from .pipeline_yaml import Dialect, Lines, YamlError, load

WORKFLOW_DIR = ".github/workflows"
WORKFLOW_SUFFIXES = (".yml", ".yaml")


def pipeline_files(repo_path: Path) -> list[str]:
    """Repository-relative paths of the pipeline entry files (what `repo` targets list as
    `workflows`): GitHub only reads workflows directly in `.github/workflows/`."""
    workflows = repo_path / WORKFLOW_DIR
    found = sorted(f"{WORKFLOW_DIR}/{p.name}" for p in workflows.glob("*")
                   if p.suffix in WORKFLOW_SUFFIXES and p.is_file()) if workflows.is_dir() else []
    if (repo_path / MAIN_FILE).is_file():
        found.append(MAIN_FILE)
    return found


def collect_pipelines(repo_path: Path, repository: str, repo_name: str) -> Collected:
    collected = Collected(f"pipelines:{repo_name}")
    if not repo_path.is_dir():
        collected.error = f"{repo_path}: not a directory"
        return collected
    pipelines: list[dict[str, Any]] = []
    for rel in pipeline_files(repo_path):
        pipeline = _pipeline(repo_path, rel, repository, collected.problems)
        if pipeline is not None:
            pipelines.append(pipeline)
    # Every target also sees its siblings, for rules about the repository's CI as a whole
    # ("some pipeline runs tests"); they are the same objects, not copies.
    collected.targets = [_target(p, repo_path, repo_name, pipelines) for p in pipelines]
    return collected


def _pipeline(repo: Path, rel: str, repository: str,
              problems: list[Problem]) -> dict[str, Any] | None:
    dialect: Dialect = "gitlab" if rel == MAIN_FILE else "github"

    def read(file: str) -> tuple[dict[str, Any], Lines] | None:
        return _read(repo, file, dialect, problems)

    try:
        if dialect == "gitlab":
            return parse_gitlab(repo, read, problems, repository=repository)
        loaded = read(rel)
        return None if loaded is None else parse_workflow(*loaded, path=rel,
                                                          repository=repository)
    except Exception as exc:  # a shape no parser expected costs this file, not the source
        problems.append(Problem("parse", f"cannot read pipeline: {type(exc).__name__}: {exc}",
                                Location(str(repo / rel))))
        return None


def _read(repo: Path, rel: str, dialect: Dialect,
          problems: list[Problem]) -> tuple[dict[str, Any], Lines] | None:
    file = repo / rel
    try:
        data, lines = load(file.read_text(encoding="utf-8"), dialect)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem("read", f"cannot read: {exc}", Location(str(file))))
        return None
    except YamlError as exc:
        problems.append(Problem("parse", str(exc), Location(str(file), exc.line)))
        return None
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {type(data).__name__}"
        problems.append(Problem("parse", f"expected a mapping at the top, got {what}",
                                Location(str(file), 1)))
        return None
    return data, lines


def _target(pipeline: dict[str, Any], repo: Path, repo_name: str,
            siblings: list[dict[str, Any]]) -> Target:
    name = f"{repo_name}/{pipeline['path']}"
    ref = TargetRef(id=f"pipeline:{name}", kind="pipeline", name=name,
                    location=Location(str(repo / pipeline["path"])))
    return Target(ref, {"pipeline": pipeline, "repository_pipelines": siblings})
