"""pathwarden's engine: targets, policies, evaluation. `scorecards` and `webhook` build on it.

The public surface is what this module exports; everything else is internal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .errors import InputError, PathwardenError, PolicyLoadError, Problem
from .evaluate import evaluate, evaluate_target
from .loading.loader import builtin_policy_dir, load_policy_set
from .model import (
    Enforcement,
    Finding,
    Language,
    Location,
    Policy,
    Severity,
    Status,
    Target,
    TargetRef,
    Violation,
)
from .policyset import BackendFactory, PolicySet
from .rego import embedded_backend


def load_policies(
    dirs: Iterable[Path] = (), *, builtin: bool = True, backend: BackendFactory | None = None
) -> PolicySet:
    """Built-in policies (unless `builtin=False`) plus the given directories, compiled."""
    paths = ([builtin_policy_dir()] if builtin else []) + [Path(d) for d in dirs]
    return load_policy_set(paths, backend or embedded_backend)


__all__ = [
    "Enforcement", "Finding", "InputError", "Language", "Location", "PathwardenError",
    "Policy", "PolicyLoadError", "PolicySet", "Problem", "Severity", "Status", "Target",
    "TargetRef", "Violation", "evaluate", "evaluate_target", "load_policies",
]
