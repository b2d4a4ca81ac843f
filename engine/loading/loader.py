"""Load policy directories (built-in + the organisation's own) into one PolicySet.

The loader reads everything, collects every problem with its file and line, and only then
decides: any problem raises PolicyLoadError and nothing half-loaded is returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PolicyLoadError, Problem
from ..gatekeeper.loading import read_gatekeeper_files
from ..model import Language, Location
from ..policyset import BackendFactory, CompiledPolicy, PolicySet
from ..rego.results import RULES, RegoModule
from ..rego.source import RegoSource, read_source
from ..rules import RULE_ATTRIBUTE, RuleSpec
from .metadata import MetadataError, build_policy
from .python_modules import import_file


def builtin_policy_dir() -> Path:
    from pathwarden import policies

    return Path(policies.__file__).resolve().parent


@dataclass(slots=True)
class PolicyFiles:
    """The files of some policy directories, by role."""

    rego: list[Path] = field(default_factory=list)
    rego_tests: list[Path] = field(default_factory=list)
    python: list[Path] = field(default_factory=list)
    python_tests: list[Path] = field(default_factory=list)
    yaml: list[Path] = field(default_factory=list)
    """May hold Gatekeeper ConstraintTemplates and constraints (engine/gatekeeper)."""


def find_policy_files(dirs: Iterable[Path]) -> tuple[PolicyFiles, list[Problem]]:
    files, problems = PolicyFiles(), []
    for root in dirs:
        if not root.exists():
            problems.append(Problem("load", "policy directory does not exist", Location(str(root))))
            continue
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if any(part.startswith((".", "__")) for part in path.relative_to(root).parts):
                continue
            _classify(path, files)
    return files, problems


def _classify(path: Path, files: PolicyFiles) -> None:
    name = path.name
    if name.endswith("_test.rego"):
        files.rego_tests.append(path)
    elif name.endswith(".rego"):
        files.rego.append(path)
    elif name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
        files.python_tests.append(path)
    elif name.endswith(".py") and name not in ("__init__.py", "conftest.py"):
        files.python.append(path)
    elif name.endswith((".yaml", ".yml")):
        files.yaml.append(path)


def load_policy_set(dirs: Iterable[Path], backend_factory: BackendFactory) -> PolicySet:
    files, problems = find_policy_files(list(dirs))
    modules, rego_policies = read_rego_files(files.rego, problems)
    python_policies = read_python_files(files.python, problems)
    gk_modules, gk_policies = read_gatekeeper_files(files.yaml, problems)
    compiled = rego_policies + python_policies + gk_policies
    problems.extend(_duplicate_ids(compiled))
    if problems:
        raise PolicyLoadError(problems)
    return PolicySet(compiled, modules + gk_modules, backend_factory)


def read_rego_files(
    paths: list[Path], problems: list[Problem]
) -> tuple[list[RegoModule], list[CompiledPolicy]]:
    modules: list[RegoModule] = []
    policies: list[CompiledPolicy] = []
    packages: dict[str, Location] = {}
    for path in paths:
        loaded = read_rego_module(path, problems)
        if loaded is None:
            continue
        module, source = loaded
        modules.append(module)
        if source.metadata is None:
            if module.rules:
                problems.append(Problem(
                    "load", f"package {module.package} defines {sorted(module.rules)} but has no "
                    "`# METADATA` block with custom.id before `package`", module.location))
            continue
        if module.package in packages:
            problems.append(Problem(
                "load", f"package {module.package} already holds the policy at "
                f"{packages[module.package]}; use one package per policy", module.location))
            continue
        packages[module.package] = module.location or Location(str(path))
        policy = _rego_policy(module, source, problems)
        if policy is not None:
            policies.append(policy)
    return modules, policies


def read_rego_module(path: Path, problems: list[Problem]) -> tuple[RegoModule, RegoSource] | None:
    text = path.read_text(encoding="utf-8")
    try:
        source = read_source(text)
    except ValueError as exc:
        problems.append(Problem("load", f"invalid # METADATA: {exc}", Location(str(path))))
        return None
    if not source.package:
        problems.append(Problem("load", "no package declaration", Location(str(path), 1)))
        return None
    for head, line in source.v0_heads:
        problems.append(Problem(
            "load", f"Rego v0 rule head `{head} {{`: the embedded evaluator reads Rego v1; "
            "write `… if {` (and `contains` for partial sets)", Location(str(path), line)))
    rules = frozenset(r for r in RULES if r in source.defined)
    module = RegoModule(str(path), text, source.package, rules,
                        Location(str(path), source.package_line), source)
    return module, source


def _rego_policy(
    module: RegoModule, source: RegoSource, problems: list[Problem]
) -> CompiledPolicy | None:
    annotations: dict[str, Any] = source.metadata or {}
    custom = annotations.get("custom") or {}
    if not isinstance(custom, dict):
        custom = {}
    meta = {**custom}
    for key in ("title", "description"):
        if key in annotations:
            meta[key] = annotations[key]
    related = annotations.get("related_resources") or []
    if "url" not in meta and related and isinstance(related[0], dict) and related[0].get("ref"):
        meta["url"] = related[0]["ref"]
    location = Location(module.name, source.metadata_line)
    if not module.rules:
        problems.append(Problem("load", f"package {module.package} has metadata but no "
                                "`deny` or `warn` rule", location))
        return None
    try:
        policy = build_policy(meta, language=Language.REGO, location=location)
    except MetadataError as exc:
        problems.append(Problem("load", f"invalid metadata: {exc}", location))
        return None
    return CompiledPolicy(policy, rego=module)


def read_python_files(paths: list[Path], problems: list[Problem]) -> list[CompiledPolicy]:
    policies = []
    for path in paths:
        module, problem = import_file(path)
        if problem:
            problems.append(problem)
            continue
        for spec in _rule_specs(module):
            try:
                policy = build_policy(spec.metadata, language=Language.PYTHON,
                                      location=spec.location)
            except MetadataError as exc:
                problems.append(Problem("load", f"invalid metadata: {exc}", spec.location))
                continue
            policies.append(CompiledPolicy(policy, python=spec))
    return policies


def _rule_specs(module: Any) -> list[RuleSpec]:
    specs = [getattr(v, RULE_ATTRIBUTE) for v in vars(module).values()
             if callable(v) and hasattr(v, RULE_ATTRIBUTE)]
    return [s for s in specs if s.function.__module__ == module.__name__]


def _duplicate_ids(compiled: list[CompiledPolicy]) -> list[Problem]:
    seen: dict[str, Location] = {}
    problems = []
    for c in compiled:
        first = seen.setdefault(c.policy.id, c.policy.location)
        if first is not c.policy.location:
            problems.append(Problem(
                "load", f"duplicate policy id {c.policy.id!r}, first defined at {first}",
                c.policy.location))
    return problems
