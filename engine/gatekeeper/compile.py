"""Templates and constraints -> Rego modules and pathwarden policies (one per constraint).

Policy ids are `<kind in lowercase>.<constraint name>` (`k8srequiredlabels.must-have-owner`):
stable across reloads, unique because Kubernetes names a constraint uniquely per kind,
and valid pathwarden ids (constraint names are DNS names). Metadata comes from the
template and the constraint; a constraint's annotation wins over its template's:

| policy field  | from |
|---------------|------|
| title         | `metadata.gatekeeper.sh/title`, else `<Kind> <name>` |
| description   | `description` (as in the Gatekeeper library) |
| severity      | `pathwarden.dev/severity` (default medium) |
| remediation, url | `pathwarden.dev/remediation`, `pathwarden.dev/url` |
| tags          | `gatekeeper`, `gatekeeper:<Kind>`, and `pathwarden.dev/tags` (comma-separated) |
| enforcement   | `spec.enforcementAction`: deny -> deny, warn -> warn, dryrun -> audit |
| kinds         | the kinds of `spec.match.kinds` (empty: all) |
| parameters    | `spec.parameters`, with the schema's defaults |
| inventory     | the template reads `data.inventory`, or the match has a `namespaceSelector` |

Gatekeeper does not judge the pod templates of workloads unless told to (expansion), so
these policies have `autogen: false`.
"""

from __future__ import annotations

from ..errors import Problem
from ..loading.metadata import MetadataError, build_policy
from ..model import Language, Location
from ..policyset import CompiledPolicy
from ..rego.results import RegoModule
from .match import check_match, policy_kinds
from .modules import TemplateModules, constraint_module, library_modules, template_modules
from .objects import Constraint, Template
from .schema import check_parameters, schema_problem

ENFORCEMENT = {"deny": "deny", "warn": "warn", "dryrun": "audit"}
SEVERITY = "pathwarden.dev/severity"
REMEDIATION = "pathwarden.dev/remediation"
URL = "pathwarden.dev/url"
TAGS = "pathwarden.dev/tags"
TITLE = "metadata.gatekeeper.sh/title"


def compile_gatekeeper(templates: list[Template], constraints: list[Constraint],
                       problems: list[Problem]
                       ) -> tuple[list[RegoModule], list[CompiledPolicy]]:
    """Modules (templates, libs, the match library, one per constraint) and policies.

    Problems are appended; a template or constraint with a problem contributes nothing."""
    if not templates and not constraints:
        return [], []
    by_kind: dict[str, TemplateModules] = {}
    seen: dict[str, Location] = {}
    names: set[str] = set()
    modules: list[RegoModule] = library_modules()
    for template in templates:
        if template.kind in seen:
            problems.append(Problem("load", f"a ConstraintTemplate for kind {template.kind} is "
                                    f"already defined at {seen[template.kind]}",
                                    template.location))
            continue
        seen[template.kind] = template.location
        bad_schema = schema_problem(template.schema)
        if bad_schema:
            problems.append(Problem("load", f"{template.kind}: {bad_schema}",
                                    template.location))
            continue
        name = template.location.file
        if name in names:
            name = f"{name}#{template.kind}"
        names.add(name)
        built = template_modules(template, name, problems)
        if built is not None:
            by_kind[template.kind] = built
            modules.extend(built.modules)
    policies = []
    for constraint in constraints:
        compiled = _constraint_policy(constraint, by_kind, seen, problems)
        if compiled is not None:
            policies.append(compiled)
            modules.append(compiled.rego)  # type: ignore[arg-type]
    return modules, policies


def _constraint_policy(constraint: Constraint, by_kind: dict[str, TemplateModules],
                       defined: dict[str, Location], problems: list[Problem]
                       ) -> CompiledPolicy | None:
    label = f"{constraint.kind}/{constraint.name}"
    template = by_kind.get(constraint.kind)
    if template is None:
        if constraint.kind not in defined:  # a template with problems is reported already
            known = ", ".join(sorted(defined)) or "none"
            problems.append(Problem("load", f"{label}: no ConstraintTemplate defines kind "
                                    f"{constraint.kind} (loaded templates: {known})",
                                    constraint.location))
        return None
    before = len(problems)
    match, errors = check_match(constraint.spec.get("match"))
    problems.extend(Problem("load", f"{label}: {e}", constraint.where.get("match"))
                    for e in errors)
    parameters, errors = check_parameters(constraint.spec.get("parameters"),
                                          template.template.schema)
    problems.extend(Problem("load", f"{label}: {message}",
                            constraint.location_of("spec", "parameters", *path))
                    for path, message in errors)
    action = str(constraint.spec.get("enforcementAction") or "deny")
    if action.lower() not in ENFORCEMENT:
        problems.append(Problem(
            "load", f"{label}: enforcementAction {action!r} is not supported; use "
            f"{', '.join(ENFORCEMENT)}", constraint.where.get("enforcementAction")))
    if len(problems) > before:
        return None
    annotations = {**template.template.annotations, **constraint.annotations}
    extra_tags = [t.strip() for t in annotations.get(TAGS, "").split(",") if t.strip()]
    meta = {
        "id": f"{constraint.kind.lower()}.{constraint.name}",
        "title": annotations.get(TITLE) or f"{constraint.kind} {constraint.name}",
        "description": (template.template.annotations.get("description")
                        or template.template.annotations.get("metadata.gatekeeper.sh/"
                                                             "description") or ""),
        "severity": annotations.get(SEVERITY),
        "remediation": annotations.get(REMEDIATION),
        "url": annotations.get(URL),
        "tags": ["gatekeeper", f"gatekeeper:{constraint.kind}", *extra_tags],
        "kinds": list(policy_kinds(match)),
        "enforcement": ENFORCEMENT[action.lower()],
        "parameters": parameters,
        "inventory": template.reads_inventory or match.get("namespaceSelector") is not None,
        "autogen": False,
    }
    try:
        policy = build_policy({k: v for k, v in meta.items() if v is not None},
                              language=Language.REGO, location=constraint.location)
    except MetadataError as exc:
        problems.append(Problem("load", f"{label}: {exc}", constraint.location))
        return None
    return CompiledPolicy(policy, rego=constraint_module(constraint, template, match))
