"""Targets and their services: the catalog a configuration names, the catalog-info.yaml
files found in scanned repositories, and the mapping of each target to its service.

The scanner and `pathwarden eval` map alike, so a service-scoped waiver or a campaign
filter means the same in CI as in the audit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..model import Target
from ..settings import Settings
from ..sources.base import Collected, problem_row


def configured_catalog(settings: Settings) -> tuple[Any, list[dict[str, Any]]]:
    if not settings.scan.catalog:
        return None, []
    from ..catalog import read_catalog

    catalog = read_catalog(list(settings.scan.catalog))
    return catalog, [problem_row("catalog", p) for p in catalog.problems]


def with_repository_catalogs(catalog: Any, settings: Settings,
                              collected: list[Collected]) -> tuple[Any, list[dict[str, Any]]]:
    """catalog-info.yaml files found in scanned repositories join the configured catalog.

    An entity the configured catalog already has is the same entity seen twice (Backstage
    registers repository files through the central catalog too): the configured one wins,
    silently; only entities new to the catalog are added."""
    from ..catalog.refs import make_ref
    from ..model import Location

    known = set(catalog.entities) if catalog is not None else set()
    documents = []
    for source in collected:
        for target in source.targets:
            repo = target.document.get("repository")
            if not isinstance(repo, dict):
                continue
            for entry in repo.get("catalog") or []:
                entity = entry.get("entity") if isinstance(entry, dict) else None
                if isinstance(entity, dict) and isinstance(entity.get("metadata"), dict):
                    meta = entity["metadata"]
                    ref = make_ref(str(entity.get("kind", "")),
                                   str(meta.get("namespace") or "default"),
                                   str(meta.get("name", "")))
                    if ref in known:
                        continue
                    where = Location(f"{repo.get('path')}/{entry.get('path')}",
                                     entry.get("line"))
                    documents.append((entry["entity"], where))
    if not documents:
        return catalog, []
    from ..catalog import read_catalog

    merged = read_catalog(list(settings.scan.catalog), documents=documents)
    return merged, [problem_row("catalog", p) for p in merged.problems]


def catalog_repositories(catalog: Any) -> list[str]:
    if catalog is None:
        return []
    urls = set()
    for service in catalog.services.values():
        link = service.links.repository
        if link is not None and link.url:
            urls.add(link.url)
    return sorted(urls)


def with_services(catalog: Any, targets: list[Target], unowned: list[Target],
                   repo_services: dict[str, Any]) -> list[Target]:
    """Targets with `ref.service` and a `service` fact in their document, for policies.

    A pipeline belongs to its repository's service even when the repository has no remote
    URL to match (a local checkout whose catalog-info.yaml claimed it)."""
    if catalog is None:
        return targets
    from ..catalog import assign_services

    owned, orphans = assign_services(catalog, targets)
    result = []
    for target in owned:
        service = catalog.services.get(target.ref.service)
        if target.ref.kind == "repo":
            repo_services[target.ref.name] = service
        target.document["service"] = service_fact(service)
        result.append(target)
    for target in orphans:
        service = None
        if target.ref.kind == "pipeline":
            service = repo_services.get(target.ref.name.split("/", 1)[0])
        if service is not None:
            target = dataclasses.replace(target, ref=dataclasses.replace(
                target.ref, service=service.ref))
        else:
            unowned.append(target)
        target.document["service"] = service_fact(service)
        result.append(target)
    return result


def service_fact(service: Any) -> dict[str, Any] | None:
    if service is None:
        return None
    return {"ref": service.ref, "name": service.name, "owner": service.owner,
            "type": service.type, "lifecycle": service.lifecycle, "tier": service.tier,
            "system": service.system}


def service_rows(catalog: Any) -> list[dict[str, Any]]:
    if catalog is None:
        return []
    return [{"ref": s.ref, "name": s.name, "title": s.title, "owner": s.owner,
             "type": s.type, "lifecycle": s.lifecycle, "system": s.system,
             "domain": s.domain, "tier": s.tier, "tags": list(s.tags),
             "links": catalog_links(s.links), "location": str(s.location) if s.location else None}
            for s in catalog.services.values()]


def catalog_links(links: Any) -> dict[str, Any]:
    """The catalog's links as JSON for the store (dashboard and API read them)."""
    repository = links.repository
    return {
        "kubernetes_id": links.kubernetes_id,
        "kubernetes_label_selector": str(links.kubernetes_label_selector)
        if links.kubernetes_label_selector is not None else None,
        "kubernetes_namespace": links.kubernetes_namespace,
        "repository": repository.url if repository is not None else None,
        "repository_slug": repository.slug if repository is not None else None,
        "ci": [{"provider": c.provider, "repository": c.repository.slug} for c in links.ci],
    }
