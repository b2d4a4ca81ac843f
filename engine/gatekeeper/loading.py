"""Gatekeeper objects in policy directories: which YAML files hold them, and loading them.

Policy directories are walked for `.yaml`/`.yml` files; documents whose apiVersion is
`templates.gatekeeper.sh/*` (kind ConstraintTemplate) or `constraints.gatekeeper.sh/*`
are loaded, every other document is ignored (a directory laid out like the Gatekeeper
library also holds sample objects and test suites). A YAML file that does not parse is a
problem only when it mentions `gatekeeper.sh`, so unrelated YAML cannot break loading.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import PolicyLoadError, Problem
from ..model import Location
from ..policyset import BackendFactory, CompiledPolicy, PolicySet
from ..rego.results import RegoModule
from .compile import compile_gatekeeper
from .objects import (
    Constraint,
    Template,
    is_constraint,
    is_template,
    parse_constraint,
    parse_template,
    read_documents,
)

SUFFIXES = (".yaml", ".yml")


def read_objects(paths: Iterable[Path], problems: list[Problem], *, quiet: bool = True
                 ) -> tuple[list[Template], list[Constraint]]:
    templates: list[Template] = []
    constraints: list[Constraint] = []
    for path in paths:
        for doc in read_documents(path, problems, quiet=quiet):
            if is_template(doc.value):
                parsed: Template | Constraint | Problem = parse_template(doc)
            elif is_constraint(doc.value):
                parsed = parse_constraint(doc)
            else:
                continue
            if isinstance(parsed, Problem):
                problems.append(parsed)
            elif isinstance(parsed, Template):
                templates.append(parsed)
            else:
                constraints.append(parsed)
    return templates, constraints


def read_gatekeeper_files(paths: Iterable[Path], problems: list[Problem]
                          ) -> tuple[list[RegoModule], list[CompiledPolicy]]:
    """The loader's entry: modules and one policy per constraint found in `paths`."""
    templates, constraints = read_objects(paths, problems)
    return compile_gatekeeper(templates, constraints, problems)


def gatekeeper_policy_set(template: Path, constraint: Path,
                          backend_factory: BackendFactory) -> PolicySet:
    """One template and its constraint, alone (a `verify` test); raises PolicyLoadError."""
    problems: list[Problem] = []
    templates, _ = read_objects([template], problems, quiet=False)
    _, constraints = read_objects([constraint], problems, quiet=False)
    if not problems and not templates:
        problems.append(Problem("load", "no ConstraintTemplate in this file",
                                Location(str(template))))
    if not problems and not constraints:
        problems.append(Problem("load", "no constraint (constraints.gatekeeper.sh) in this "
                                "file", Location(str(constraint))))
    modules, policies = compile_gatekeeper(templates[:1], constraints[:1], problems)
    if problems:
        raise PolicyLoadError(problems)
    return PolicySet(policies, modules, backend_factory)
