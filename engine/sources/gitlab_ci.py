"""`.gitlab-ci.yml` (with its local includes) -> the pipeline document.

GitLab builds one pipeline from several files: local includes are read from the checkout
and merged under the main file the way GitLab merges them (hashes deep-merged, the
including file wins), then `extends`, `default:` and `!reference` are resolved per job.
Remote, project, template and component includes are listed, never fetched: a scan must
not reach out to other servers on behalf of a repository's configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..model import Location
from .gitlab_rules import triggers
from .pipeline_shape import gitlab_secret_names, image_entry, str_list, str_map, text
from .pipeline_yaml import Lines, Reference

MAIN_FILE = ".gitlab-ci.yml"
RESERVED = {"default", "include", "stages", "variables", "workflow", "image", "services",
            "before_script", "after_script", "cache", "spec"}
GLOBAL_DEFAULTS = ("image", "services", "before_script", "after_script", "cache")
DEFAULT_KEYS = ("image", "services", "before_script", "after_script", "cache", "tags",
                "artifacts", "retry", "timeout", "interruptible", "hooks", "id_tokens",
                "identity")
DEFAULT_STAGES = [".pre", "build", "test", "deploy", ".post"]
SCRIPT_SECTIONS = ("before_script", "script", "after_script")
MAX_INCLUDE_DEPTH = 10
MAX_EXTENDS_DEPTH = 11

Reader = Callable[[str], tuple[dict[str, Any], Lines] | None]
"""Reads a repository-relative file; None when it is missing or broken (problem recorded)."""


@dataclass(slots=True)
class _Files:
    repo: Path
    read: Reader
    problems: list[Problem]
    files: list[tuple[str, dict[str, Any], Lines]] = field(default_factory=list)
    includes: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def parse_gitlab(repo: Path, read: Reader, problems: list[Problem], *,
                 repository: str) -> dict[str, Any] | None:
    main = read(MAIN_FILE)
    if main is None:
        return None
    found = _Files(repo, read, problems, seen={MAIN_FILE})
    _gather(MAIN_FILE, *main, found, 0)
    config, origins = _merge(found.files)
    lines = {rel: file_lines for rel, _, file_lines in found.files}
    model = _Model(config, origins, lines)
    jobs = [_job(name, model) for name in config
            if isinstance(name, str) and name not in RESERVED and not name.startswith(".")
            and isinstance(config[name], dict)]
    vault = [str(k) for job in jobs if isinstance(job["secrets"], dict) for k in job["secrets"]]
    return {
        "system": "gitlab-ci",
        "path": MAIN_FILE,
        "repository": repository,
        "name": text((config.get("workflow") or {}).get("name")
                     if isinstance(config.get("workflow"), dict) else None) or MAIN_FILE,
        "triggers": triggers(model.dereference(config.get("workflow")),
                             [job["config"] for job in jobs], lines[MAIN_FILE]),
        "permissions": None,
        "env": _variables(model.dereference(config.get("variables"))),
        "stages": str_list(config.get("stages")) or list(DEFAULT_STAGES),
        "includes": found.includes,
        "jobs": jobs,
        "images": [image for job in jobs for image in _images(job, model)],
        "uses_actions": [],
        "secrets_used": sorted(set(gitlab_secret_names(config)) | set(vault)),
        "line": 1,
        "lines": main[1].keys(),
    }


def _gather(rel: str, data: dict[str, Any], lines: Lines, found: _Files, depth: int) -> None:
    """Depth first: a file's includes come before the file itself in merge order."""
    for index, entry in enumerate(_include_entries(data.get("include"))):
        entry.update({"file": rel, "line": lines.of("include", index) or lines.of("include")})
        found.includes.append(entry)
        if entry["kind"] != "local" or depth >= MAX_INCLUDE_DEPTH or "$" in entry["location"]:
            continue
        for inc in _local_files(entry, found):
            if inc in found.seen:
                continue
            found.seen.add(inc)
            loaded = found.read(inc)
            if loaded is not None:
                entry["loaded"] = True
                _gather(inc, *loaded, found, depth + 1)
    found.files.append((rel, data, lines))


def _include_entries(value: Any) -> list[dict[str, Any]]:
    entries = []
    for item in value if isinstance(value, list) else [value] if value else []:
        if isinstance(item, str):
            kind = "remote" if item.startswith(("https://", "http://")) else "local"
            entries.append({"kind": kind, "location": item, "project_files": [], "ref": None,
                            "loaded": False, "config": item})
        elif isinstance(item, dict):
            kind = next((k for k in ("local", "remote", "template", "project", "component")
                         if k in item), "unknown")
            entries.append({"kind": kind, "location": text(item.get(kind)) or "",
                            "project_files": str_list(item.get("file")),
                            "ref": text(item.get("ref")),
                            "loaded": False, "config": item})
    return entries


def _local_files(entry: dict[str, Any], found: _Files) -> list[str]:
    pattern = entry["location"].lstrip("/")
    root = found.repo.resolve()
    if any(c in pattern for c in "*?["):
        paths = sorted(p for p in root.glob(pattern) if p.is_file())
    else:
        paths = [root / pattern]
    inside = [p for p in paths if p.resolve().is_relative_to(root) and p.is_file()]
    if not inside:
        found.problems.append(Problem(
            "read", f"include: local file {entry['location']!r} not found in the repository",
            Location(str(found.repo / entry["file"]), entry["line"])))
    return [p.relative_to(root).as_posix() for p in inside]


def _merge(files: list[tuple[str, dict[str, Any], Lines]]
           ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    config: dict[str, Any] = {}
    origins: dict[str, list[str]] = {}
    for rel, data, _ in files:
        for key, value in data.items():
            if key == "include" or not isinstance(key, str):
                continue
            config[key] = deep_merge(config.get(key), value)
            origins.setdefault(key, []).append(rel)
    return config, origins


def deep_merge(base: Any, over: Any) -> Any:
    """GitLab's merge for includes and `extends`: hashes merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return over


class _Model:
    """The merged configuration, with `extends` resolved on demand and lines per file."""

    def __init__(self, config: dict[str, Any], origins: dict[str, list[str]],
                 lines: dict[str, Lines]):
        self.config, self.origins, self.lines = config, origins, lines
        self._resolved: dict[str, dict[str, Any]] = {}

    def extended(self, name: str, depth: int = 0) -> dict[str, Any]:
        if name in self._resolved:
            return self._resolved[name]
        raw = self.config.get(name)
        if not isinstance(raw, dict):
            return {}
        merged: dict[str, Any] = {}
        if depth < MAX_EXTENDS_DEPTH:
            for parent in str_list(raw.get("extends")):
                if parent != name:
                    merged = deep_merge(merged, self.extended(parent, depth + 1))
        merged = deep_merge(merged, {k: v for k, v in raw.items() if k != "extends"})
        self._resolved[name] = merged
        return merged

    def lookup_order(self, name: str, depth: int = 0) -> list[str]:
        """Where a job's key may be written: the job, then its parents (last one first)."""
        raw = self.config.get(name)
        order = [name]
        if isinstance(raw, dict) and depth < MAX_EXTENDS_DEPTH:
            for parent in reversed(str_list(raw.get("extends"))):
                order += self.lookup_order(parent, depth + 1)
        return order

    def where(self, name: str, key: str | None = None) -> tuple[str, int | None]:
        """The file and line that define `name` (or its `key`, inherited ones included)."""
        if key is None:
            rel = self.origins.get(name, [MAIN_FILE])[-1]
            return rel, self.lines[rel].of(name)
        for owner in [*self.lookup_order(name), "default", None]:
            for rel in reversed(self.origins.get(owner or key, [])):
                line = self.lines[rel].of(owner, key) if owner else self.lines[rel].of(key)
                if line:
                    return rel, line
        return self.where(name)

    def dereference(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, Reference):
            if depth > 10 or not value.path:
                return None
            found: Any = self.extended(value.path[0]) if value.path[0] in self.config else None
            for part in value.path[1:]:
                found = found.get(part) if isinstance(found, dict) else None
            return self.dereference(found, depth + 1)
        if isinstance(value, dict):
            return {k: self.dereference(v, depth) for k, v in value.items()}
        if isinstance(value, list):
            return [self.dereference(v, depth) for v in value]
        return value


def _job(name: str, model: _Model) -> dict[str, Any]:
    job = model.dereference(model.extended(name))
    inherit = job.get("inherit") if isinstance(job.get("inherit"), dict) else {}
    default = model.config.get("default")
    defaults = {**{k: model.config[k] for k in GLOBAL_DEFAULTS if k in model.config},
                **(default if isinstance(default, dict) else {})}
    for key in _allowed(DEFAULT_KEYS, inherit.get("default", True)):
        if key not in job and key in defaults:
            job[key] = model.dereference(defaults[key])
    global_vars = _variables(model.dereference(model.config.get("variables")))
    env = {k: v for k, v in global_vars.items()
           if k in _allowed(tuple(global_vars), inherit.get("variables", True))}
    file, line = model.where(name)
    image = job.get("image")
    environment = job.get("environment")
    return {
        "id": name,
        "name": name,
        "runs_on": str_list(job.get("tags")) or None,
        "image": text(image.get("name") if isinstance(image, dict) else image),
        "container": image,
        "services": _services(job.get("services")),
        "permissions": None,
        "environment": text(environment.get("name") if isinstance(environment, dict)
                            else environment),
        "needs": _needs(job.get("needs")),
        "if": None,
        "rules": job.get("rules"),
        "stage": text(job.get("stage")) or "test",
        "strategy": job.get("parallel"),
        "uses": None,
        "with": {},
        "secrets": job.get("secrets"),
        "id_tokens": job.get("id_tokens") if isinstance(job.get("id_tokens"), dict) else None,
        "env": {**env, **_variables(job.get("variables"))},
        "steps": _steps(name, job, model),
        "file": file,
        "path": name,
        "line": line,
        "lines": model.lines[file].keys(name),
        "config": job,
    }


def _allowed(keys: tuple[str, ...], setting: Any) -> tuple[str, ...]:
    """`inherit: default/variables`: true (all), false (none) or a list of names."""
    if setting is False:
        return ()
    if isinstance(setting, list):
        return tuple(k for k in keys if k in setting)
    return keys


def _steps(name: str, job: dict[str, Any], model: _Model) -> list[dict[str, Any]]:
    steps = []
    for section in SCRIPT_SECTIONS:
        if section not in job:
            continue
        commands = _commands(job[section])
        file, line = model.where(name, section)
        steps.append({"index": len(steps), "id": section, "name": section, "uses": None,
                      "run": "\n".join(commands), "shell": None, "with": {}, "env": {},
                      "if": None, "path": f"{name}.{section}", "file": file, "line": line,
                      "lines": {}})
    return steps


def _commands(value: Any, depth: int = 0) -> list[str]:
    """Script lines, with the nested lists that `!reference` leaves behind flattened."""
    if isinstance(value, list) and depth < 10:
        return [c for item in value for c in _commands(item, depth + 1)]
    return [] if value is None or isinstance(value, list) else [str(value)]


def _variables(value: Any) -> dict[str, Any]:
    """`NAME: value` and `NAME: {value: …, description: …}` alike."""
    if not isinstance(value, dict):
        return {}
    flat = {k: v.get("value") if isinstance(v, dict) else v for k, v in value.items()}
    return str_map(flat)


def _services(value: Any) -> list[dict[str, Any]]:
    services = []
    for item in value if isinstance(value, list) else []:
        image = item.get("name") if isinstance(item, dict) else item
        alias = item.get("alias") if isinstance(item, dict) else None
        services.append({"name": text(alias) or text(image), "image": text(image),
                         "config": item})
    return services


def _needs(value: Any) -> list[str]:
    names = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and item.get("job"):
            names.append(str(item["job"]))
        elif isinstance(item, str):
            names.append(item)
    return names


def _images(job: dict[str, Any], model: _Model) -> list[dict[str, Any]]:
    found = []
    if job["image"]:
        file, line = model.where(job["id"], "image")
        found.append(image_entry(job["image"], f"{job['id']}.image", line, file))
    for index, service in enumerate(job["services"]):
        if service["image"]:
            file, line = model.where(job["id"], "services")
            found.append(image_entry(service["image"], f"{job['id']}.services[{index}]", line,
                                     file))
    return found
