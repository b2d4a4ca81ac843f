"""Which service a target belongs to.

Every finding is only actionable with an owner, so each target is matched against the
catalog by the links Backstage itself uses: Kubernetes objects by `backstage.io/
kubernetes-id` or a label selector, repositories by URL or project slug, pipelines through
their repository. When several services claim one target the most specific rule wins
(an explicit id beats a selector; an explicit repository beats a derived one), ties go to
the service read first, and the overlap is reported once so the catalog can be fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..k8s import pod_template
from ..model import Target
from .model import REPOSITORY_ANNOTATION, Catalog, RepositoryLink, Service
from .repos import RepoKey, parse_repository
from .service_links import GITHUB_SLUG, GITLAB_SLUG, K8S_ID, MANAGED_BY, SOURCE_LOCATION

K8S_ID_RANK, K8S_SELECTOR_RANK = 2, 1
REPO_RANKS = {REPOSITORY_ANNOTATION: 4, GITHUB_SLUG: 3, GITLAB_SLUG: 3, SOURCE_LOCATION: 2,
              MANAGED_BY: 1}
LOCAL_PATH_RANK = 0


@dataclass(frozen=True, slots=True)
class Match:
    service: Service
    rank: int
    rule: str


class ServiceIndex:
    """Lookup tables so that mapping a target does not walk every service's annotations."""

    def __init__(self, catalog: Catalog) -> None:
        self.order = {ref: i for i, ref in enumerate(catalog.services)}
        self.by_k8s_id: dict[str, list[Service]] = {}
        self.with_selector: list[Service] = []
        self.by_repo_path: dict[str, list[tuple[Service, RepositoryLink]]] = {}
        self.files: list[tuple[Service, Path]] = []
        for service in catalog.services.values():
            links = service.links
            if links.kubernetes_id:
                self.by_k8s_id.setdefault(links.kubernetes_id, []).append(service)
            if links.kubernetes_label_selector:
                self.with_selector.append(service)
            for link in links.repositories:
                self.by_repo_path.setdefault(link.key.path, []).append((service, link))
            if service.location.file:
                self.files.append((service, Path(service.location.file).resolve()))

    def matches(self, target: Target) -> list[Match]:
        document = target.document or {}
        if target.kind == "k8s":
            return self._k8s(document.get("review") or {})
        if target.kind == "repo":
            return self._repository(document.get("repository"))
        if target.kind == "pipeline":
            pipeline = document.get("pipeline") or {}
            return self._repository(pipeline.get("repository"))
        return []

    def _k8s(self, review: dict[str, Any]) -> list[Match]:
        obj = review.get("object") or {}
        meta = obj.get("metadata") or {}
        label_sets = [_labels(meta)]
        template, _ = pod_template(obj)
        if template is not None:
            label_sets.append(_labels(template.get("metadata") or {}))
        # A Namespace is "in" itself, so `kubernetes-namespace: shop` can claim it.
        namespace = meta.get("name") if obj.get("kind") == "Namespace" else (
            meta.get("namespace") or review.get("namespace") or None)
        found = []
        for k8s_id in dict.fromkeys(labels[K8S_ID] for labels in label_sets if K8S_ID in labels):
            found += [Match(s, K8S_ID_RANK, f"kubernetes-id {k8s_id}")
                      for s in self.by_k8s_id.get(k8s_id, []) if _in_namespace(s, namespace)]
        for service in self.with_selector:
            selector = service.links.kubernetes_label_selector
            if selector and _in_namespace(service, namespace) and any(
                    selector.matches(labels) for labels in label_sets):
                found.append(Match(service, K8S_SELECTOR_RANK, f"label selector {selector}"))
        return found

    def _repository(self, repo: Any) -> list[Match]:
        """`repo` is a repository document (`url`, `slug`, `name`, `path`) or a URL/slug."""
        if isinstance(repo, str):
            repo = {"url": repo}
        if not isinstance(repo, dict):
            return []
        keys = [k for k in (parse_repository(repo.get("url")), _slug(repo.get("slug")),
                            _slug(repo.get("name"))) if k]
        found = []
        for key in keys:
            for service, link in self.by_repo_path.get(key.path, []):
                if link.key.same_repository(key):
                    found.append(Match(service, REPO_RANKS[link.annotation],
                                       f"{link.annotation} {link.key}"))
        path = repo.get("path")
        if isinstance(path, str) and path:
            root = Path(path).resolve()
            found += [Match(s, LOCAL_PATH_RANK, f"catalog file inside {path}")
                      for s, file in self.files
                      # A service that names its repositories lives where they say, unless
                      # the target has no URL to compare with.
                      if (not keys or not s.links.repositories) and file.is_relative_to(root)]
        return found


def service_for(catalog: Catalog, target: Target) -> Service | None:
    index = catalog.mapping_index()
    best: dict[str, Match] = {}
    for match in index.matches(target):
        known = best.get(match.service.ref)
        if known is None or match.rank > known.rank:
            best[match.service.ref] = match
    if not best:
        return None
    ranked = sorted(best.values(), key=lambda m: (-m.rank, index.order[m.service.ref]))
    chosen = ranked[0]
    if len(ranked) > 1:
        why = ("the most specific rule" if ranked[1].rank < chosen.rank
               else "equally specific; the one read first")
        claims = "; ".join(f"{m.service.ref} by {m.rule}" for m in ranked)
        catalog.report_once(frozenset(best), Problem(
            "catalog",
            f"{target.id} matches several services ({claims}): it goes to "
            f"{chosen.service.ref} ({why}); reported once for these services",
            chosen.service.location))
    return chosen.service


def assign_services(catalog: Catalog, targets: list[Target]) -> tuple[list[Target], list[Target]]:
    """(targets with `ref.service` set to their service's ref, targets no service claims)."""
    owned: list[Target] = []
    unowned: list[Target] = []
    for target in targets:
        service = service_for(catalog, target)
        if service is None:
            unowned.append(target)
        else:
            owned.append(replace(target, ref=replace(target.ref, service=service.ref)))
    return owned, unowned


def _labels(meta: dict[str, Any]) -> dict[str, str]:
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _in_namespace(service: Service, namespace: str | None) -> bool:
    wanted = service.links.kubernetes_namespace
    return wanted is None or wanted == namespace


def _slug(name: Any) -> RepoKey | None:
    """A repository's `name` only identifies it when it is a full `owner/name`."""
    return parse_repository(name) if isinstance(name, str) and "/" in name else None
