"""What a Component's annotations say about where its parts live: Kubernetes objects,
repositories, CI, and its tier.

The annotations are Backstage's own (those its Kubernetes, GitHub and GitLab plugins read),
so a catalog that already works in Backstage maps targets without pathwarden-specific
additions; `pathwarden.dev/*` annotations exist only to override or add what Backstage
has no word for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import Problem
from ..model import Location
from .model import (
    REPOSITORY_ANNOTATION,
    TIER_ANNOTATION,
    CiLink,
    RepositoryLink,
    ServiceLinks,
)
from .repos import RepoKey, parse_repository, slug_key
from .selectors import SelectorError, parse_selector

K8S_ID = "backstage.io/kubernetes-id"
K8S_SELECTOR = "backstage.io/kubernetes-label-selector"
K8S_NAMESPACE = "backstage.io/kubernetes-namespace"
GITHUB_SLUG = "github.com/project-slug"
GITLAB_SLUG = "gitlab.com/project-slug"
GITLAB_INSTANCE = "gitlab.com/instance"
SOURCE_LOCATION = "backstage.io/source-location"
MANAGED_BY = "backstage.io/managed-by-location"
TIER_LABEL = "tier"


def service_tier(metadata: dict[str, Any], spec: dict[str, Any], location: Location,
                 problems: list[Problem]) -> str | None:
    """Annotation `pathwarden.dev/tier`, else label `tier`, else `spec.tier`: the annotation
    is the explicit pathwarden word, labels are what Backstage teams already filter on, and
    `spec.tier` is a common home-grown field that Backstage tolerates."""
    for value in (metadata.get("annotations", {}).get(TIER_ANNOTATION),
                  metadata.get("labels", {}).get(TIER_LABEL), spec.get("tier")):
        if isinstance(value, bool) or value is None or value == "":
            continue
        if isinstance(value, str | int):
            return str(value).strip()
        problems.append(Problem("catalog", f"tier {value!r} is not a string; ignored", location))
        return None
    return None


def service_links(annotations: dict[str, str], location: Location,
                  problems: list[Problem]) -> ServiceLinks:
    def problem(message: str) -> None:
        problems.append(Problem("catalog", message, location))

    selector = None
    if raw := annotations.get(K8S_SELECTOR):
        try:
            selector = parse_selector(raw)
        except SelectorError as exc:
            problem(f"{K8S_SELECTOR}: {exc}; not used for mapping")
    repositories, ci = _repositories(annotations, problem)
    return ServiceLinks(
        kubernetes_id=annotations.get(K8S_ID) or None,
        kubernetes_label_selector=selector,
        kubernetes_namespace=annotations.get(K8S_NAMESPACE) or None,
        repositories=repositories,
        ci=ci,
        source_location=annotations.get(SOURCE_LOCATION) or None,
        managed_by_location=annotations.get(MANAGED_BY) or None,
    )


def _repositories(annotations: dict[str, str], problem: Callable[[str], None]
                  ) -> tuple[tuple[RepositoryLink, ...], tuple[CiLink, ...]]:
    """Strongest first: the explicit override alone, else project slugs, the source
    location, and the managed-by location only when nothing else names a repository (it
    points at wherever the catalog file lives, often a central catalog repository)."""
    if override := annotations.get(REPOSITORY_ANNOTATION):
        key = parse_repository(override)
        if key is not None:
            link = RepositoryLink(key, REPOSITORY_ANNOTATION)
            return (link,), _ci_for(link)
        problem(f"{REPOSITORY_ANNOTATION} {override!r} is not a repository URL or owner/name")
    source = parse_repository(annotations.get(SOURCE_LOCATION))
    links: list[RepositoryLink] = []
    ci: list[CiLink] = []
    for annotation, default_host, provider in ((GITHUB_SLUG, "github.com", "github-actions"),
                                              (GITLAB_SLUG, "gitlab.com", "gitlab-ci")):
        if not (slug := annotations.get(annotation)):
            continue
        host = annotations.get(GITLAB_INSTANCE, default_host) if provider == "gitlab-ci" \
            else default_host
        if source and source.host and source.path == slug.strip().lower():
            host = source.host   # GitHub Enterprise / self-hosted GitLab named by the source
        key = slug_key(slug, host)
        if key is None:
            problem(f"{annotation} {slug!r} is not an owner/name project slug")
            continue
        link = RepositoryLink(key, annotation)
        links.append(link)
        ci.append(CiLink(provider, link))
    if source is not None:
        links.append(RepositoryLink(source, SOURCE_LOCATION))
    if not links and (managed := parse_repository(annotations.get(MANAGED_BY))):
        links.append(RepositoryLink(managed, MANAGED_BY))
    return _unique(links), tuple(ci)


def _ci_for(link: RepositoryLink) -> tuple[CiLink, ...]:
    """An explicit repository on a known forge implies that forge's CI, as a slug does."""
    host = link.key.host or ""
    provider = "github-actions" if "github" in host else "gitlab-ci" if "gitlab" in host else None
    return (CiLink(provider, link),) if provider else ()


def _unique(links: list[RepositoryLink]) -> tuple[RepositoryLink, ...]:
    seen: set[RepoKey] = set()
    kept = []
    for link in links:
        if link.key not in seen:
            seen.add(link.key)
            kept.append(link)
    return tuple(kept)
