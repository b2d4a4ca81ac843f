"""Repository ownership: someone answers for every repository, and the catalog knows who.

An unowned repository is where incidents, CVEs and migrations stall, so ownership comes
first on the golden path. CODEOWNERS makes it visible in reviews; the Backstage catalog
makes it visible to the scorecards and routes findings to the right team.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule

CATCH_ALL = frozenset({"*", "/*", "**", "/**", "**/*", "/**/*", "/"})
API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
OWNED_KINDS = frozenset({"component", "api", "resource", "system", "domain", "template"})
TYPED_KINDS = frozenset({"component", "api"})
NAME = re.compile(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$")
CATALOG_EXAMPLE = ("apiVersion: backstage.io/v1alpha1, kind: Component, metadata: {name: "
                   "<service>}, spec: {type: service, lifecycle: production, owner: <team>}")


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line else path


def root_entries(repo: dict) -> list[dict]:
    """The entities of the root catalog-info.yaml: the one that describes this repository
    (files deeper down may be examples, fixtures or other components of a monorepo)."""
    return [e for e in repo.get("catalog") or [] if "/" not in e["path"]]


def catalog_owner(repo: dict) -> str | None:
    for entry in root_entries(repo):
        entity = entry.get("entity")
        if not isinstance(entity, dict) or str(entity.get("kind", "")).lower() != "component":
            continue
        owner = (entity.get("spec") or {}).get("owner") if isinstance(entity.get("spec"),
                                                                        dict) else None
        if isinstance(owner, str) and owner.strip():
            return owner
    return None


@rule(
    id="repo-owner-known",
    title="Repository has an owner",
    description="The repository names its owning team: a CODEOWNERS rule for the whole "
    "repository (`*`) with an owner, or a Component with spec.owner in the root "
    "catalog-info.yaml. "
    "Without one, reviews, security fixes and migrations have nobody to go to.",
    severity="high",
    targets=["repo"],
    enforcement="deny",
    remediation="Add .github/CODEOWNERS with a default rule for everything, e.g. the line "
    "`* @acme/team-shop`; or register the repository in the catalog with a catalog-info.yaml "
    f"in the root ({CATALOG_EXAMPLE}).",
    url="https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-"
    "features/customizing-your-repository/about-code-owners",
    tags=["golden-path:ownership", "golden-path:repository-hygiene"],
)
def owner_known(doc):
    repo = doc["repository"]
    if catalog_owner(repo):
        return
    codeowners = repo.get("codeowners")
    if not codeowners:
        yield {"msg": "no owner: there is no CODEOWNERS file (root, .github/, docs/ or "
                      ".gitlab/) and no Component with spec.owner in the root catalog-info.yaml",
               "path": ".github/CODEOWNERS"}
        return
    path = codeowners["path"]
    defaults = [r for r in codeowners.get("rules") or [] if r["pattern"] in CATCH_ALL]
    if not defaults:
        yield {"msg": f"no owner: {path} has no rule for the whole repository (`* @team`) and "
                      "no Component in the root catalog-info.yaml names spec.owner",
               "path": path}
    elif not defaults[-1]["owners"]:
        last = defaults[-1]
        yield {"msg": f"no owner: the rule `{last['pattern']}` at {path}:{last['line']} has no "
                      "owners, so nobody owns the repository by default",
               "path": _where(path, last["line"])}


@rule(
    id="repo-catalog-info-valid",
    title="Valid catalog-info.yaml",
    description="The repository is registered in the service catalog with a catalog-info.yaml "
    "in its root, and every catalog-info.yaml in it parses and carries what the catalog and "
    "the scorecards need: apiVersion "
    "backstage.io/v1alpha1 (or v1beta1), kind, metadata.name, spec.owner, and spec.type and "
    "spec.lifecycle for Components and APIs.",
    severity="medium",
    targets=["repo"],
    enforcement="deny",
    remediation=f"Add catalog-info.yaml to the repository root: {CATALOG_EXAMPLE}; fix the "
    "fields the messages name.",
    url="https://backstage.io/docs/features/software-catalog/descriptor-format",
    tags=["golden-path:ownership", "golden-path:repository-hygiene"],
)
def catalog_info_valid(doc):
    repo = doc["repository"]
    if not root_entries(repo):
        yield {"msg": "no catalog-info.yaml in the repository root: the repository is not "
                      "registered in the service catalog", "path": "catalog-info.yaml"}
    for entry in repo.get("catalog") or []:
        where = _where(entry["path"], entry.get("line"))
        if entry.get("error"):
            yield {"msg": f"{where}: {entry['error']}", "path": where}
            continue
        for problem in entity_problems(entry["entity"]):
            yield {"msg": f"{where}: {problem}", "path": where}


def entity_problems(entity: object) -> list[str]:
    if not isinstance(entity, dict):
        return [f"expected a catalog entity (a mapping), got {type(entity).__name__}"]
    problems = []
    api, kind = entity.get("apiVersion"), entity.get("kind")
    metadata = entity.get("metadata") if isinstance(entity.get("metadata"), dict) else {}
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    name = metadata.get("name")
    label = f"{kind or 'entity'} {name!r}" if name else str(kind or "entity")
    if api not in API_VERSIONS and not (kind == "Template"
                                        and str(api).startswith("scaffolder.backstage.io/")):
        problems.append(f"{label}: apiVersion is {api!r}, expected one of {list(API_VERSIONS)}")
    if not isinstance(kind, str) or not kind:
        problems.append(f"{label}: kind is missing")
    if not isinstance(name, str) or not name:
        problems.append(f"{label}: metadata.name is missing")
    elif not NAME.match(name) or len(name) > 63:
        problems.append(f"{label}: metadata.name must be 1-63 letters, digits and single "
                        "[-_.] separators")
    lower = str(kind).lower()
    fields = (["owner"] if lower in OWNED_KINDS else []) + \
        (["type", "lifecycle"] if lower in TYPED_KINDS else [])
    for field in fields:
        value = spec.get(field)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{label}: spec.{field} is missing")
    return problems
