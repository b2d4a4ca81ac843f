"""What every source hands the scanner: targets, inventory objects, problems, or an error.

A source is one place facts come from: one cluster context, one manifests directory, the
configured repositories, their pipelines. One source failing (a cluster that is down, a
repository that will not clone) is recorded as that source's error and the scan goes on
with the others; problems with single files inside a source are listed per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..model import Target


@dataclass(slots=True)
class Collected:
    source: str
    """Stable name shown in scans and errors: `cluster:prod-eu`, `manifests:deploy/`,
    `repo:shop-web`, `pipelines:shop-web`."""
    targets: list[Target] = field(default_factory=list)
    inventory: list[dict[str, Any]] = field(default_factory=list)
    """Kubernetes objects for `data.inventory` of the targets of this source (Secrets
    without data); empty for repositories and pipelines."""
    problems: list[Problem] = field(default_factory=list)
    """Files or objects that could not be read; everything else was collected."""
    error: str | None = None
    """The whole source failed: nothing was collected from it."""


def problem_row(source: str, problem: Problem) -> dict[str, Any]:
    """A problem as a scan records it (`scans.errors`): the source, the step, the reason,
    and the file and line when it has them."""
    loc = problem.location
    return {"source": source, "problem": problem.message, "step": problem.step,
            "file": loc.file if loc else None, "line": loc.line if loc else None}
