"""A GitHub Actions workflow file -> the pipeline document (README, "Pipeline targets").

Only what the file says is recorded: nothing is fetched, reusable workflows and actions
are references. Defaults GitHub applies at run time are left as `None` where a policy
needs to know that they were not written (top-level `permissions`, for one).
"""

from __future__ import annotations

from typing import Any

from .pipeline_shape import (
    github_secret_names,
    image_entry,
    parse_uses,
    str_list,
    str_map,
    text,
)
from .pipeline_yaml import Lines


def parse_workflow(data: dict[str, Any], lines: Lines, *, path: str,
                   repository: str) -> dict[str, Any]:
    """`data` is the workflow mapping read with the GitHub dialect (`on` stays a string)."""
    on = data.get("on", data.get(True))
    jobs = [_job(str(job_id), job if isinstance(job, dict) else {}, lines, path)
            for job_id, job in (data.get("jobs") or {}).items()] \
        if isinstance(data.get("jobs"), dict) else []
    return {
        "system": "github-actions",
        "path": path,
        "repository": repository,
        "name": text(data.get("name")) or path,
        "triggers": _triggers(on, lines),
        "permissions": _permissions(data.get("permissions")),
        "env": str_map(data.get("env")),
        "stages": None,
        "includes": [],
        "jobs": jobs,
        "images": [image for job in jobs for image in _images(job)],
        "uses_actions": [u for job in jobs for u in _uses_of(job)],
        "secrets_used": github_secret_names(data),
        "line": 1,
        "lines": lines.keys(),
    }


def _triggers(on: Any, lines: Lines) -> list[dict[str, Any]]:
    """`on: push`, `on: [push, pull_request]` and the mapping form, alike."""
    if on is None:
        return []
    if isinstance(on, str):
        on = [on]
    if isinstance(on, list):
        return [_trigger(str(event), None, lines.of("on", i)) for i, event in enumerate(on)]
    if isinstance(on, dict):
        return [_trigger(str(event), config, lines.of("on", str(event)))
                for event, config in on.items()]
    return []


def _trigger(event: str, config: Any, line: int | None) -> dict[str, Any]:
    filters = config if isinstance(config, dict) else {}
    return {"event": event, "branches": str_list(filters.get("branches")),
            "tags": str_list(filters.get("tags")), "config": config, "line": line}


def _permissions(value: Any) -> dict[str, str] | str | None:
    """A mapping of scope -> level, `read-all`, `write-all`, or None when not written."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return None if value is None else str(value)


def _job(job_id: str, job: dict[str, Any], lines: Lines, file: str) -> dict[str, Any]:
    key = ("jobs", job_id)
    container = job.get("container")
    image = container.get("image") if isinstance(container, dict) else container
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    uses = job.get("uses")
    steps = job.get("steps") if isinstance(job.get("steps"), list) else []
    return {
        "id": job_id,
        "name": text(job.get("name")) or job_id,
        "runs_on": job.get("runs-on"),
        "image": text(image),
        "container": container,
        "services": _services(job.get("services")),
        "permissions": _permissions(job.get("permissions")),
        "environment": text(environment),
        "needs": str_list(job.get("needs")),
        "if": text(job.get("if")),
        "rules": None,
        "stage": None,
        "strategy": job.get("strategy"),
        "uses": parse_uses(uses) if isinstance(uses, str) else None,
        "with": job.get("with") if isinstance(job.get("with"), dict) else {},
        "secrets": job.get("secrets"),
        "id_tokens": None,
        "env": str_map(job.get("env")),
        "steps": [_step(i, s if isinstance(s, dict) else {}, (*key, "steps", i), lines,
                        job_id, file) for i, s in enumerate(steps)],
        "file": file,
        "path": f"jobs.{job_id}",
        "line": lines.of(*key),
        "lines": lines.keys(*key),
        "config": job,
    }


def _services(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    services = []
    for name, config in value.items():
        image = config.get("image") if isinstance(config, dict) else config
        services.append({"name": str(name), "image": text(image), "config": config})
    return services


def _step(index: int, step: dict[str, Any], key: tuple[str | int, ...], lines: Lines,
          job_id: str, file: str) -> dict[str, Any]:
    uses = parse_uses(step["uses"]) if isinstance(step.get("uses"), str) else None
    run = text(step.get("run"))
    return {
        "index": index,
        "id": text(step.get("id")),
        "name": text(step.get("name")) or _display_name(index, uses, run),
        "uses": uses,
        "run": run,
        "shell": text(step.get("shell")),
        "with": step.get("with") if isinstance(step.get("with"), dict) else {},
        "env": str_map(step.get("env")),
        "if": text(step.get("if")),
        "path": f"jobs.{job_id}.steps[{index}]",
        "file": file,
        "line": lines.of(*key),
        "lines": lines.keys(*key),
    }


def _display_name(index: int, uses: dict[str, Any] | None, run: str | None) -> str:
    """The name GitHub shows for an unnamed step."""
    if uses:
        return f"Run {uses['raw']}"
    first = (run or "").strip().splitlines()
    return f"Run {first[0]}" if first else f"step {index}"


def _images(job: dict[str, Any]) -> list[dict[str, Any]]:
    file, path = job["file"], job["path"]
    found = []
    if job["image"]:
        found.append(image_entry(job["image"], f"{path}.container", job["lines"].get("container"),
                                 file))
    for service in job["services"]:
        if service["image"]:
            found.append(image_entry(service["image"], f"{path}.services.{service['name']}",
                                     job["lines"].get("services"), file))
    for step in job["steps"]:
        uses = step["uses"]
        if uses and uses["ref_kind"] == "docker":
            found.append(image_entry(uses["raw"][len("docker://"):], f"{step['path']}.uses",
                                     step["line"], file))
    return found


def _uses_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action and reusable workflow the job refers to, with where it is written."""
    found = []
    if job["uses"]:
        found.append({**job["uses"], "kind": "workflow", "job": job["id"], "step": None,
                      "path": f"{job['path']}.uses", "line": job["lines"].get("uses"),
                      "file": job["file"]})
    for step in job["steps"]:
        if step["uses"]:
            found.append({**step["uses"], "kind": "action", "job": job["id"],
                          "step": step["index"], "path": f"{step['path']}.uses",
                          "line": step["line"], "file": job["file"]})
    return found
