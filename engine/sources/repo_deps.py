"""Dependency manifests, their lockfiles, and the bots that keep them up to date.

Ecosystem names are Dependabot's `package-ecosystem` values (npm, pip, gomod, cargo,
bundler, maven, gradle, composer), so a policy can compare what a repository uses with what
its dependabot.yml covers without a translation table of its own.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from .repo_files import basename, dirname, skipped
from .repo_reader import RepoReader

RENOVATE_PATHS = ("renovate.json", "renovate.json5", ".github/renovate.json",
                  ".github/renovate.json5", ".gitlab/renovate.json", ".gitlab/renovate.json5",
                  ".renovaterc", ".renovaterc.json", ".renovaterc.json5")
DEPENDABOT_PATHS = (".github/dependabot.yml", ".github/dependabot.yaml")


@dataclass(frozen=True, slots=True)
class Kind:
    ecosystem: str
    lockfiles: tuple[str, ...]
    inherited: bool
    """A lockfile in a parent folder counts: npm/yarn/pnpm workspaces, Cargo and uv
    workspaces keep one lockfile at the workspace root."""
    count: Callable[[str], int | None] | None = None
    """Declared dependencies; 0 means nothing to lock. None: unknown."""


def _json_count(*sections: str, ignore: Callable[[str], bool] = lambda _: False):
    def count(text: str) -> int | None:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return sum(len([k for k in (data.get(s) or {}) if not ignore(k)]) for s in sections)
    return count


def _pyproject_count(text: str) -> int | None:
    data = tomllib.loads(text)
    project, tool = data.get("project") or {}, data.get("tool") or {}
    poetry = tool.get("poetry") or {}
    if not project and not poetry:
        return -1  # only tool configuration (ruff, black, …): not a manifest at all
    total = len(project.get("dependencies") or [])
    total += sum(len(v) for v in (project.get("optional-dependencies") or {}).values())
    total += sum(len(v) for v in (data.get("dependency-groups") or {}).values())
    total += len([k for k in (poetry.get("dependencies") or {}) if k != "python"])
    total += len(poetry.get("dev-dependencies") or {})
    total += sum(len((g or {}).get("dependencies") or {})
                 for g in (poetry.get("group") or {}).values())
    total += sum(len(v) for v in ((tool.get("pdm") or {}).get("dev-dependencies") or {})
                 .values())
    total += len((tool.get("uv") or {}).get("dev-dependencies") or [])
    return total


def _cargo_count(text: str) -> int | None:
    data = tomllib.loads(text)
    if "workspace" in data:
        return None  # a workspace always wants its one Cargo.lock
    sections = ("dependencies", "dev-dependencies", "build-dependencies")
    total = sum(len(data.get(s) or {}) for s in sections)
    for target in (data.get("target") or {}).values():
        total += sum(len((target or {}).get(s) or {}) for s in sections)
    return total


def _pipfile_count(text: str) -> int | None:
    data = tomllib.loads(text)
    return len(data.get("packages") or {}) + len(data.get("dev-packages") or {})


def _gomod_count(text: str) -> int | None:
    total, block = 0, False
    for line in text.splitlines():
        line = line.split("//", 1)[0].strip()
        if block:
            if line == ")":
                block = False
            elif line:
                total += 1
        elif line.startswith("require"):
            rest = line[len("require"):].strip()
            if rest == "(":
                block = True
            elif rest:
                total += 1
    return total


def _gemfile_count(text: str) -> int | None:
    return sum(1 for line in text.splitlines() if re.match(r"\s*gem\s+['\"]", line))


MANIFESTS: dict[str, Kind] = {
    "package.json": Kind("npm", ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
                                 "pnpm-lock.yaml", "bun.lock", "bun.lockb"), True,
                         _json_count("dependencies", "devDependencies",
                                     "optionalDependencies")),
    "pyproject.toml": Kind("pip", ("poetry.lock", "uv.lock", "pdm.lock", "pylock.toml"), True,
                           _pyproject_count),
    "Pipfile": Kind("pip", ("Pipfile.lock",), False, _pipfile_count),
    "go.mod": Kind("gomod", ("go.sum",), False, _gomod_count),
    "Cargo.toml": Kind("cargo", ("Cargo.lock",), True, _cargo_count),
    "Gemfile": Kind("bundler", ("Gemfile.lock",), False, _gemfile_count),
    "pom.xml": Kind("maven", (), False),
    "build.gradle": Kind("gradle", ("gradle.lockfile",), False),
    "build.gradle.kts": Kind("gradle", ("gradle.lockfile",), False),
    "composer.json": Kind("composer", ("composer.lock",), False,
                          _json_count("require", "require-dev",
                                      ignore=lambda k: k == "php" or k.startswith("ext-"))),
}
NO_LOCKFILE = frozenset({"maven"})
"""Ecosystems without a lockfile convention: their `pinned` is None, not False."""


def dependency_manifests(reader: RepoReader) -> list[dict[str, Any]]:
    manifests = []
    for path in reader.files:
        if skipped(path):
            continue
        name = basename(path)
        if name in MANIFESTS:
            entry = _manifest(reader, path, MANIFESTS[name])
        elif _is_requirements(path):
            entry = _requirements(reader, path)
        else:
            continue
        if entry is not None:
            manifests.append(entry)
    return manifests


def _manifest(reader: RepoReader, path: str, kind: Kind) -> dict[str, Any] | None:
    count, error = None, None
    if kind.count is not None:
        text, error = reader.read(path)
        if text is not None:
            try:
                count = kind.count(text)
            except (ValueError, TypeError, AttributeError) as exc:
                error = f"cannot parse: {exc}"
    if count == -1:
        return None
    lockfile = _lockfile(reader, path, kind)
    no_lockfile = kind.ecosystem in NO_LOCKFILE
    pinned = None if no_lockfile else (lockfile is not None or count == 0)
    return {"path": path, "ecosystem": kind.ecosystem, "lockfile": lockfile, "pinned": pinned,
            "dependencies": count, "error": error}


def _lockfile(reader: RepoReader, path: str, kind: Kind) -> str | None:
    folder = dirname(path)
    while True:
        prefix = f"{folder}/" if folder else ""
        found = reader.first(prefix + name for name in kind.lockfiles)
        if found or not kind.inherited or not folder:
            return found
        folder = dirname(folder)


# --- requirements files ------------------------------------------------------------------

_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[^\s;,*<>=!~]+\s*(;.*)?$")
_IGNORED_OPTIONS = ("-r", "-c", "-i", "-f", "--requirement", "--constraint", "--index-url",
                    "--extra-index-url", "--find-links", "--trusted-host", "--no-binary",
                    "--only-binary", "--prefer-binary", "--require-hashes", "--pre",
                    "--no-index", "--use-feature")


def _is_requirements(path: str) -> bool:
    name = basename(path)
    return (name.startswith("requirements") and name.endswith((".txt", ".in"))) or \
        (basename(dirname(path)) == "requirements" and name.endswith((".txt", ".in")))


def _requirements(reader: RepoReader, path: str) -> dict[str, Any]:
    """requirements*.txt that pin every line (`==`, or `--hash`) are their own lockfile;
    a pip-compile `requirements.in` is locked by the `.txt` beside it."""
    if path.endswith(".in"):
        lock = path[:-3] + ".txt"
        lockfile = lock if reader.has(lock) else None
        return {"path": path, "ecosystem": "pip", "lockfile": lockfile,
                "pinned": lockfile is not None, "dependencies": None, "error": None}
    text, error = reader.read(path)
    unpinned, total = [], 0
    for requirement in _requirement_lines(text or ""):
        total += 1
        if not _is_pinned(requirement):
            unpinned.append(requirement)
    return {"path": path, "ecosystem": "pip", "lockfile": None,
            "pinned": error is None and not unpinned, "dependencies": total,
            "unpinned": unpinned[:10], "error": error}


def _requirement_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = []
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line or line.startswith(_IGNORED_OPTIONS):
            continue
        lines.append(line)
    return lines


def _is_pinned(requirement: str) -> bool:
    if "--hash=" in requirement:
        return True
    if requirement.startswith(("-e", "--editable")):
        return False
    return bool(_PINNED.match(requirement.split(" --", 1)[0].strip()))


# --- Renovate and Dependabot ---------------------------------------------------------------

def dependency_updates(reader: RepoReader) -> dict[str, Any]:
    return {"renovate": _renovate(reader), "dependabot": _dependabot(reader)}


def _renovate(reader: RepoReader) -> str | None:
    found = reader.first(RENOVATE_PATHS)
    if found or not reader.has("package.json"):
        return found
    text, _ = reader.read("package.json")  # the deprecated "renovate" key of package.json
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    return "package.json" if isinstance(data, dict) and "renovate" in data else None


def _dependabot(reader: RepoReader) -> dict[str, Any] | None:
    path = reader.first(DEPENDABOT_PATHS)
    if path is None:
        return None
    result: dict[str, Any] = {"path": path, "ecosystems": [], "updates": [], "error": None}
    text, error = reader.read(path)
    if text is None:
        result["error"] = error
        return result
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        result["error"] = f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"
        return result
    updates = data.get("updates") if isinstance(data, dict) else None
    if not isinstance(updates, list):
        result["error"] = "no `updates` list"
        return result
    for update in updates:
        if not isinstance(update, dict) or not update.get("package-ecosystem"):
            continue
        directories = update.get("directories") or [update.get("directory") or "/"]
        result["updates"].append({"ecosystem": str(update["package-ecosystem"]),
                                  "directories": [str(d) for d in directories]})
    result["ecosystems"] = sorted({u["ecosystem"] for u in result["updates"]})
    return result
